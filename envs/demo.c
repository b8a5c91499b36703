// demo.c: an env and its trained policy as one C program, no Python.
//
// `puffer-learn export ENV --checkpoint P --out DIR` compiles this file with
//   -DENV_HEADER='"target/target.h"' -DDEMO_CONFIG='"DIR/ENV_config.h"'
// where ENV_config.h holds the env settings the policy was trained with
// (demo_config), the env's name and its Log field names. It reuses the same binding as Python (vec_binding.h), so
// the env loop, auto-reset and logs are exactly the ones training saw.
//
//   ./target_demo [--weights F] [--episodes N] [--seed S] [--argmax] [--frames DIR]
// prints one JSON line: {"env": ..., "episodes": N, "score": ..., ...}
#include <sys/stat.h>
#include ENV_HEADER
#include "vec_binding.h"
#include "puffernet.h"
#include DEMO_CONFIG

// calloc or a one-line error naming what did not fit and its size.
static void* demo_alloc(const char* what, size_t count, size_t size) {
    void* p = calloc(count, size);
    if (!p) {
        fprintf(stderr, "error: out of memory allocating %s (%zu x %zu bytes)\n", what, count, size);
        exit(1);
    }
    return p;
}

static void usage(const char* prog) {
    fprintf(stderr, "usage: %s [--weights FILE] [--episodes N] [--seed S] [--argmax] "
            "[--frames DIR] [--max-frames N]\n", prog);
    exit(2);
}

int main(int argc, char** argv) {
    char weights[4096];
    snprintf(weights, sizeof weights, "%s.bin", argv[0]);  // default: next to the program
    int episodes = 10, argmax = 0, max_frames = 300;
    uint64_t seed = 0;
    const char* frames_dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--weights") && i + 1 < argc) snprintf(weights, sizeof weights, "%s", argv[++i]);
        else if (!strcmp(argv[i], "--episodes") && i + 1 < argc) episodes = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--frames") && i + 1 < argc) frames_dir = argv[++i];
        else if (!strcmp(argv[i], "--max-frames") && i + 1 < argc) max_frames = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--argmax")) argmax = 1;
        else usage(argv[0]);
    }
    if (episodes < 1) usage(argv[0]);
    setenv("SDL_VIDEODRIVER", "dummy", 0);  // frames need no display
    if (frames_dir) mkdir(frames_dir, 0755);  // fine if it exists already

    Config cfg;
    demo_config(&cfg);
    char err[512];
    if (env_check(&cfg, err, sizeof err)) { fprintf(stderr, "bad env config: %s\n", err); return 1; }
    Spaces sp = {0};
    env_spaces(&cfg, &sp);

    PufferNet net;
    if (puffernet_load(&net, weights, sp.obs_size, sp.num_actions, err, sizeof err)) {
        fprintf(stderr, "error: %s\n", err);
        return 1;
    }
    if (net.obs_dtype != (pl_obs_is_float() ? 0u : 1u)) {
        fprintf(stderr, "error: %s was trained on %s observations but this env emits %s\n", weights,
                net.obs_dtype ? "uint8" : "float32", pl_obs_is_float() ? "floats" : "integers");
        return 1;
    }
    if (pl_check_spaces(&sp, err, sizeof err)) { fprintf(stderr, "error: %s\n", err); return 1; }
    if (net.arch == ARCH_LSTM && puffernet_init_agents(&net, sp.num_agents, err, sizeof err)) {
        fprintf(stderr, "error: %s\n", err);
        return 1;
    }

    // The shared buffers, as Python would own them (one env).
    OBS_TYPE* obs = demo_alloc("observations", (size_t)sp.num_agents * sp.obs_size, sizeof(OBS_TYPE));
    int* actions = demo_alloc("actions", sp.num_agents, sizeof(int));
    float* rewards = demo_alloc("rewards", sp.num_agents, sizeof(float));
    uint8_t* terminals = demo_alloc("terminals", sp.num_agents, 1);
    uint8_t* truncations = demo_alloc("truncations", sp.num_agents, 1);
    float* x = demo_alloc("the observation as floats", sp.obs_size, sizeof(float));
    float* logits = demo_alloc("logits", sp.num_actions, sizeof(float));
    uint8_t* rgb = frames_dir ? demo_alloc("a frame", (size_t)sp.render_width * sp.render_height, 3) : NULL;
    VecEnv* vec = pl_vec_init(&cfg, 1, obs, actions, rewards, terminals, truncations, seed, 1,
                              err, sizeof err);
    if (!vec) { fprintf(stderr, "error: %s\n", err); return 1; }
    pl_vec_reset(vec, seed);
    uint64_t rng = pl_seed(seed ^ 0xDE110ULL);  // the policy's own sampling generator

    Log total = {0}, part;
    int frame = 0;
    while (total.n < episodes) {
        for (int a = 0; a < sp.num_agents; a++) {
            const OBS_TYPE* o = obs + (size_t)a * sp.obs_size;
            for (int k = 0; k < sp.obs_size; k++) x[k] = (float)o[k];  // dtype: always float
            float value;
            puffernet_forward(&net, a, x, logits, &value);
            actions[a] = argmax ? puffernet_argmax(logits, sp.num_actions)
                                : puffernet_sample(logits, sp.num_actions, pl_rand_float(&rng));
        }
        pl_vec_step(vec);
        for (int a = 0; a < sp.num_agents; a++)
            if (terminals[a] || truncations[a]) puffernet_reset_agent(&net, a);
        if (rgb && frame < max_frames) {
            if (!pl_vec_render(vec, 0, rgb, 1.0f)) { fprintf(stderr, "error: no window for frames\n"); return 1; }
            Image img = {rgb, sp.render_width, sp.render_height, 1, PIXELFORMAT_UNCOMPRESSED_R8G8B8};
            char path[4200];
            snprintf(path, sizeof path, "%s/frame_%05d.png", frames_dir, frame++);
            if (!ExportImage(img, path)) { fprintf(stderr, "error: cannot write %s\n", path); return 1; }
        }
        pl_vec_log(vec, &part);
        float *t = (float*)&total, *p = (float*)&part;
        for (size_t k = 0; k < sizeof(Log) / sizeof(float); k++) t[k] += p[k];
    }
    if (rgb && IsWindowReady()) CloseWindow();

    // One JSON line: every Log field as a mean over the episodes played.
    printf("{\"env\": \"%s\", \"episodes\": %d, \"policy\": \"%s\"", ENV_NAME, (int)total.n,
           argmax ? "argmax" : "sample");
    for (size_t k = 0; k < sizeof(LOG_FIELDS) / sizeof(LOG_FIELDS[0]); k++)
        printf(", \"%s\": %.6g", LOG_FIELDS[k], ((float*)&total)[k] / total.n);
    printf(", \"frames\": %d}\n", frame);
    pl_vec_close(vec);
    puffernet_free(&net);
    return 0;
}
