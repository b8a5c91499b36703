// puffernet_fuzz.c: feeds many weight files to envs/puffernet.h's loader,
// built with AddressSanitizer + UndefinedBehaviorSanitizer (see
// tests/test_fuzz_weights.py, which generates the inputs).
//
//   puffernet_fuzz CORPUS SCRATCH_FILE
//
// CORPUS is a sequence of inputs, each a little-endian uint32 length then
// that many bytes. Each input is written to SCRATCH_FILE and loaded; a file
// that loads also runs a forward pass (LSTM: for 3 agents) and an action
// choice, so the sizes the loader accepted are exercised. Any out-of-bounds
// access, leak or undefined behaviour stops the program with the sanitizer's
// report. Prints one JSON line: inputs run, files loaded, files refused.
#include "puffernet.h"

int main(int argc, char** argv) {
    if (argc != 3) { fprintf(stderr, "usage: %s CORPUS SCRATCH_FILE\n", argv[0]); return 2; }
    FILE* corpus = fopen(argv[1], "rb");
    if (!corpus) { fprintf(stderr, "cannot open %s\n", argv[1]); return 2; }
    long inputs = 0, loaded = 0, refused = 0;
    uint32_t len;
    while (fread(&len, 4, 1, corpus) == 1) {
        unsigned char* data = malloc(len ? len : 1);
        if (!data || fread(data, 1, len, corpus) != len) { fprintf(stderr, "bad corpus\n"); return 2; }
        FILE* f = fopen(argv[2], "wb");
        if (!f || fwrite(data, 1, len, f) != len) { fprintf(stderr, "cannot write scratch\n"); return 2; }
        fclose(f);
        free(data);
        // Every 3rd input is checked against the env sizes its header claims
        // to be for, the rest against none (0 = skip), to reach both paths.
        int expect_obs = 0, expect_actions = 0;
        if (inputs % 3 == 0 && len >= 28) {
            expect_obs = 5;
            expect_actions = 3;
        }
        PufferNet net;
        char err[512];
        if (puffernet_load(&net, argv[2], expect_obs, expect_actions, err, sizeof err) == 0) {
            loaded++;
            float* obs = calloc(net.obs_size, sizeof(float));
            float* logits = calloc(net.num_actions, sizeof(float));
            if (!obs || !logits) { fprintf(stderr, "harness out of memory\n"); return 2; }
            for (uint32_t i = 0; i < net.obs_size; i++) obs[i] = (float)(i % 7) - 3.0f;
            int agents = net.arch == ARCH_LSTM ? 3 : 1;
            if (net.arch == ARCH_LSTM && puffernet_init_agents(&net, agents, err, sizeof err)) return 2;
            for (int a = 0; a < agents; a++) {
                float value;
                puffernet_forward(&net, a, obs, logits, &value);
                int pick = puffernet_sample(logits, net.num_actions, 0.5f);
                int best = puffernet_argmax(logits, net.num_actions);
                if (pick < 0 || pick >= (int)net.num_actions || best < 0 || best >= (int)net.num_actions) {
                    fprintf(stderr, "action out of range\n");
                    return 1;
                }
                puffernet_reset_agent(&net, a);
            }
            free(obs);
            free(logits);
            puffernet_free(&net);
        } else {
            refused++;
            if (err[0] == 0) { fprintf(stderr, "refused without a message\n"); return 1; }
        }
        inputs++;
    }
    fclose(corpus);
    printf("{\"inputs\": %ld, \"loaded\": %ld, \"refused\": %ld}\n", inputs, loaded, refused);
    return 0;
}
