// puffernet.h: run a policy trained in PyTorch as plain C.
//
// The layers here compute exactly what puffer_learn/training/policies.py computes in
// torch (same layer order, same gate order, same activations), so a C
// program gets the same logits as Python to ~1e-6. Weights come from a file
// written by `puffer-learn export` (puffer_learn/export/weights.py):
//
//   offset  type      field
//   0       char[8]   magic "PUFFNET\0"
//   8       uint32    format version (1)
//   12      uint32    architecture: 1 = MLP, 2 = LSTM, 3 = ENTITY
//   16      uint32    obs_size       numbers per observation
//   20      uint32    obs_dtype      0 = float32, 1 = uint8 (converted to float)
//   24      uint32    num_actions
//   28      uint32    hidden_size
//   32      uint32    num_layers     hidden Linear+ReLU blocks of the body
//   36      uint32    self_size      ENTITY only (else 0): self features,
//   40      uint32    num_entities     then num_entities objects
//   44      uint32    entity_size      of entity_size features,
//   48      uint32    entity_hidden    encoded to entity_hidden each
//   52      uint32    num_floats     float32 values after the header
//   56      float32[num_floats], little-endian, in this order (W is [out][in]):
//     MLP:    body: (W, b) x num_layers; actor (W, b); critic (W, b)
//     LSTM:   encoder (W, b); weight_ih [4H][H]; weight_hh [4H][H]; bias_ih [4H];
//             bias_hh [4H] (gates in torch's order i, f, g, o); actor; critic
//     ENTITY: entity layer (W [entity_hidden][entity_size], b); body whose
//             first layer reads [self features, max-pooled entity codes];
//             actor; critic
//
// Every size is checked against the file length and against the env before
// any weight is read: a wrong file is refused with a message, never read past.
// [CONTRACT] Header fields an architecture does not use must be 0 (the entity
// fields outside ENTITY; num_layers is 1 for LSTM), every weight must be
// finite (a NaN or inf is refused, naming the tensor), and every allocation
// is checked (a failure names what was being allocated and its size).
#ifndef PUFFERNET_H
#define PUFFERNET_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <sys/stat.h>

#define PUFFNET_MAGIC "PUFFNET"
#define PUFFNET_VERSION 1
#define PUFFNET_HEADER_BYTES 56
#define PUFFNET_MAX_LAYERS 8
#define PUFFNET_MAX_WIDTH (1u << 20)   // bound on obs_size and entity sizes
#define PUFFNET_MAX_HIDDEN 65536u
enum { ARCH_MLP = 1, ARCH_LSTM = 2, ARCH_ENTITY = 3 };

typedef struct Linear { const float* w; const float* b; int in, out; } Linear;

typedef struct PufferNet {
    uint32_t version, arch, obs_size, obs_dtype, num_actions, hidden, num_layers;
    uint32_t self_size, num_entities, entity_size, entity_hidden, num_floats;
    float* weights;                   // all parameters, one block
    Linear entity, body[PUFFNET_MAX_LAYERS], actor, critic, encoder;
    const float *w_ih, *w_hh, *b_ih, *b_hh;  // LSTM
    float *h, *c;                     // LSTM memory, [num_agents][hidden]
    int num_agents;
    float *x, *y, *gates;             // scratch buffers
} PufferNet;

// ---- Layers ---------------------------------------------------------------
// --8<-- [start:linear]
// y = W x + b, W stored row-major [out][in] as torch does. The pragma lets
// the compiler split each dot product over SIMD lanes (built with
// -fopenmp-simd; it needs no OpenMP runtime). Sums are kept in double: the
// summation order differs from torch's, and float sums of trained weights
// (values around 10) drift by ~1e-5; double keeps C within torch's own
// rounding.
static void linear(const Linear* l, const float* x, float* y) {
    for (int o = 0; o < l->out; o++) {
        const float* row = l->w + (size_t)o * l->in;
        double sum = 0;
        #pragma omp simd reduction(+:sum)
        for (int i = 0; i < l->in; i++) sum += (double)row[i] * x[i];
        y[o] = (float)(sum + l->b[o]);
    }
}
// --8<-- [end:linear]

static void relu(float* x, int n) {
    for (int i = 0; i < n; i++) x[i] = x[i] > 0 ? x[i] : 0;
}

static float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

// tanh from one expf of -2|x| (in (0, 1], so it never overflows). glibc's
// tanhf goes through expm1f and was a third of an LSTM step's time in perf;
// this is within ~1e-7 of it, far inside the 1e-5 parity with torch.
static float tanh_exp(float x) {
    float e = expf(-2.0f * fabsf(x));
    float t = (1.0f - e) / (1.0f + e);
    return x < 0 ? -t : t;
}

// One step of torch.nn.LSTMCell: gates = W_ih x + b_ih + W_hh h + b_hh,
// split in torch's order (input, forget, cell candidate, output).
// [DESIGN] The 8H^2 multiply-adds are nearly all of an LSTM step, so unlike
// linear() they are summed in float, 4 SIMD lanes of partial sums (as torch's
// own kernels do): ~4x fewer instructions than double. Each lane adds H/4
// products, which keeps C within ~1e-6 of torch (tests/test_export_parity.py).
static void lstm_cell(const PufferNet* n, const float* x, float* h, float* c, float* gates) {
    int H = n->hidden;
    // Four gate rows at a time: each x[k], h[k] loaded once serves all four
    // (4H is a multiple of 4).
    for (int g = 0; g < 4 * H; g += 4) {
        const float *wi = n->w_ih + (size_t)g * H, *wh = n->w_hh + (size_t)g * H;
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        #pragma omp simd reduction(+:s0, s1, s2, s3)
        for (int k = 0; k < H; k++) {
            s0 += wi[k] * x[k] + wh[k] * h[k];
            s1 += wi[H + k] * x[k] + wh[H + k] * h[k];
            s2 += wi[2 * H + k] * x[k] + wh[2 * H + k] * h[k];
            s3 += wi[3 * H + k] * x[k] + wh[3 * H + k] * h[k];
        }
        float sums[4] = {s0, s1, s2, s3};
        for (int r = 0; r < 4; r++)
            gates[g + r] = (float)((double)sums[r] + n->b_ih[g + r] + n->b_hh[g + r]);
    }
    for (int k = 0; k < H; k++) {
        float i = sigmoid(gates[k]), f = sigmoid(gates[H + k]);
        float g = tanh_exp(gates[2 * H + k]), o = sigmoid(gates[3 * H + k]);
        c[k] = f * c[k] + i * g;
        h[k] = o * tanh_exp(c[k]);
    }
}

// Shared layer on every object, then the max over objects (like a conv
// kernel applied to every patch, then max-pooling).
static void entity_encode(const PufferNet* n, const float* obs, float* out, float* code) {
    for (int k = 0; k < (int)n->entity_hidden; k++) out[k] = -INFINITY;
    for (int e = 0; e < (int)n->num_entities; e++) {
        linear(&n->entity, obs + n->self_size + (size_t)e * n->entity_size, code);
        relu(code, n->entity_hidden);
        for (int k = 0; k < (int)n->entity_hidden; k++) out[k] = code[k] > out[k] ? code[k] : out[k];
    }
}

// Memory for num_agents separate LSTM states (one per agent), all zero.
// Returns 0, or 1 with a message in err (when given) if memory ran out.
static int puffernet_init_agents(PufferNet* n, int num_agents, char* err, int err_len) {
    free(n->h); free(n->c);
    n->num_agents = num_agents;
    n->h = calloc((size_t)num_agents * n->hidden, sizeof(float));
    n->c = calloc((size_t)num_agents * n->hidden, sizeof(float));
    if (n->h && n->c) return 0;
    free(n->h); free(n->c);
    n->h = n->c = NULL;
    n->num_agents = 0;
    if (err && err_len > 0)
        snprintf(err, err_len, "out of memory allocating the LSTM state of %d agents "
                 "(2 x %zu bytes)", num_agents, (size_t)num_agents * n->hidden * sizeof(float));
    return 1;
}

static void puffernet_free(PufferNet* n) {
    free(n->weights); free(n->h); free(n->c); free(n->x); free(n->y); free(n->gates);
    memset(n, 0, sizeof(*n));
}

// ---- Loading ---------------------------------------------------------------
static int puffernet_fail(char* err, int len, const char* msg) {
    if (err && len > 0) snprintf(err, len, "%s", msg);
    return 1;
}

// Points `l` at the next in*out + out floats; fails if the file is too short.
static int take_linear(PufferNet* n, size_t* at, Linear* l, int in, int out) {
    size_t need = (size_t)in * out + out;
    if (*at + need > n->num_floats) return 0;
    l->w = n->weights + *at;
    l->b = l->w + (size_t)in * out;
    l->in = in;
    l->out = out;
    *at += need;
    return 1;
}

// The first non-finite weight, as "actor bias[3] = nan"; 0 if all are finite.
static int puffernet_nonfinite(const float* w, size_t count, const char* tensor, char* out, int len) {
    for (size_t i = 0; i < count; i++)
        if (!isfinite(w[i])) {
            snprintf(out, len, "%s[%zu] = %s", tensor, i, isnan(w[i]) ? "nan" : w[i] > 0 ? "inf" : "-inf");
            return 1;
        }
    return 0;
}

static int puffernet_check_linear(const Linear* l, const char* name, char* out, int len) {
    char tensor[64];
    snprintf(tensor, sizeof tensor, "%s weight", name);
    if (puffernet_nonfinite(l->w, (size_t)l->in * l->out, tensor, out, len)) return 1;
    snprintf(tensor, sizeof tensor, "%s bias", name);
    return puffernet_nonfinite(l->b, l->out, tensor, out, len);
}

// Loads and validates a weight file held in memory (`len` bytes at `data`,
// e.g. fetched by a web page); `name` is what messages call it. The floats
// are copied, so `data` may be freed afterwards. expect_obs_size /
// expect_num_actions come from the env; pass 0 to skip that check. Returns 0
// on success, else writes a message into err and returns 1.
static int puffernet_load_memory(PufferNet* n, const void* data, size_t len, const char* name,
                                 int expect_obs_size, int expect_num_actions, char* err, int err_len) {
    char msg[512];
    const char* path = name;  // messages name the file (or whatever the bytes came from)
    memset(n, 0, sizeof(*n));
    const unsigned char* head = (const unsigned char*)data;
    if (!data || len < PUFFNET_HEADER_BYTES || memcmp(head, PUFFNET_MAGIC, 8) != 0) {
        snprintf(msg, sizeof msg, "%s is not a puffernet weight file (bad magic bytes); "
                 "export one with `puffer-learn export`", path);
        return puffernet_fail(err, err_len, msg);
    }
    uint32_t* field[] = {&n->version, &n->arch, &n->obs_size, &n->obs_dtype, &n->num_actions,
                         &n->hidden, &n->num_layers, &n->self_size, &n->num_entities,
                         &n->entity_size, &n->entity_hidden, &n->num_floats};
    for (int k = 0; k < 12; k++)  // little-endian uint32 values after the magic
        *field[k] = head[8 + 4 * k] | head[9 + 4 * k] << 8 | head[10 + 4 * k] << 16 |
                    (uint32_t)head[11 + 4 * k] << 24;
    const char* problem = NULL;
    if (n->version != PUFFNET_VERSION) problem = "unknown format version (this program reads version 1)";
    else if (n->arch < ARCH_MLP || n->arch > ARCH_ENTITY) problem = "unknown architecture";
    else if (n->obs_dtype > 1) problem = "unknown observation dtype";
    else if (n->num_layers < 1 || n->num_layers > PUFFNET_MAX_LAYERS) problem = "bad number of layers";
    else if (n->arch == ARCH_LSTM && n->num_layers != 1) problem = "an LSTM file must have num_layers = 1";
    else if (n->hidden < 1 || n->hidden > PUFFNET_MAX_HIDDEN || n->obs_size < 1 ||
             n->obs_size > PUFFNET_MAX_WIDTH || n->num_actions < 1 || n->num_actions > 65536)
        problem = "sizes out of range";
    else if (n->arch != ARCH_ENTITY && (n->self_size || n->num_entities || n->entity_size || n->entity_hidden))
        problem = "the entity fields (self_size, num_entities, entity_size, entity_hidden) must be 0 "
                  "for this architecture";
    else if (n->arch == ARCH_ENTITY && (n->entity_size < 1 || n->entity_hidden < 1 || n->num_entities < 1 ||
             n->entity_size > PUFFNET_MAX_WIDTH || n->entity_hidden > PUFFNET_MAX_HIDDEN ||
             n->num_entities > PUFFNET_MAX_WIDTH ||
             (uint64_t)n->self_size + (uint64_t)n->num_entities * n->entity_size != n->obs_size))
        problem = "entity layout does not add up to obs_size";
    if (problem) {
        snprintf(msg, sizeof msg, "%s: %s", path, problem);
        return puffernet_fail(err, err_len, msg);
    }
    if (expect_obs_size && n->obs_size != (uint32_t)expect_obs_size) {
        snprintf(msg, sizeof msg, "%s expects observations of %u numbers but the env gives %d: "
                 "the policy was trained on another env or config", path, n->obs_size, expect_obs_size);
        return puffernet_fail(err, err_len, msg);
    }
    if (expect_num_actions && n->num_actions != (uint32_t)expect_num_actions) {
        snprintf(msg, sizeof msg, "%s has %u actions but the env has %d", path, n->num_actions,
                 expect_num_actions);
        return puffernet_fail(err, err_len, msg);
    }
    // The file must hold exactly num_floats floats after the header.
    if ((uint64_t)len != PUFFNET_HEADER_BYTES + 4ull * n->num_floats) {
        snprintf(msg, sizeof msg, "%s is %llu bytes but its header promises %u floats (%llu bytes): "
                 "the file is truncated or corrupted", path, (unsigned long long)len, n->num_floats,
                 PUFFNET_HEADER_BYTES + 4ull * n->num_floats);
        return puffernet_fail(err, err_len, msg);
    }
    // [DESIGN] the size is bounded by the data's real length (checked above).
    n->weights = malloc(4ull * n->num_floats + 4);
    if (!n->weights) {
        snprintf(msg, sizeof msg, "%s: out of memory allocating its %u weights (%llu bytes)", path,
                 n->num_floats, 4ull * n->num_floats);
        return puffernet_fail(err, err_len, msg);
    }
    memcpy(n->weights, head + PUFFNET_HEADER_BYTES, 4ull * n->num_floats);  // little-endian hosts

    // Carve the block into layers, checking each against the float count.
    size_t at = 0;
    int H = n->hidden, ok = 1, width = n->obs_size;
    if (n->arch == ARCH_ENTITY) {
        ok &= take_linear(n, &at, &n->entity, n->entity_size, n->entity_hidden);
        width = n->self_size + n->entity_hidden;
    }
    if (n->arch == ARCH_LSTM) {
        ok &= take_linear(n, &at, &n->encoder, n->obs_size, H);
        size_t lstm = 8ull * H * H + 8ull * H;
        if (ok && at + lstm <= n->num_floats) {
            n->w_ih = n->weights + at; n->w_hh = n->w_ih + 4ull * H * H;
            n->b_ih = n->w_hh + 4ull * H * H; n->b_hh = n->b_ih + 4 * H;
            at += lstm;
        } else ok = 0;
    } else {
        for (uint32_t k = 0; k < n->num_layers; k++) {
            ok &= take_linear(n, &at, &n->body[k], width, H);
            width = H;
        }
    }
    ok = ok && take_linear(n, &at, &n->actor, H, n->num_actions);
    ok = ok && take_linear(n, &at, &n->critic, H, 1);
    if (!ok || at != n->num_floats) {
        free(n->weights); n->weights = NULL;
        snprintf(msg, sizeof msg, "%s: the header's sizes need a different number of floats than "
                 "the %u it holds", path, n->num_floats);
        return puffernet_fail(err, err_len, msg);
    }
    // Every weight must be a number: NaN or inf gives garbage actions silently.
    char bad[128] = "";
    int nonfinite = 0;
    if (n->arch == ARCH_ENTITY) nonfinite = puffernet_check_linear(&n->entity, "entity layer", bad, sizeof bad);
    if (n->arch == ARCH_LSTM && !nonfinite) {
        size_t H4 = 4ull * H;
        nonfinite = puffernet_check_linear(&n->encoder, "encoder", bad, sizeof bad) ||
                    puffernet_nonfinite(n->w_ih, H4 * H, "lstm weight_ih", bad, sizeof bad) ||
                    puffernet_nonfinite(n->w_hh, H4 * H, "lstm weight_hh", bad, sizeof bad) ||
                    puffernet_nonfinite(n->b_ih, H4, "lstm bias_ih", bad, sizeof bad) ||
                    puffernet_nonfinite(n->b_hh, H4, "lstm bias_hh", bad, sizeof bad);
    } else if (!nonfinite) {
        for (uint32_t k = 0; k < n->num_layers && !nonfinite; k++) {
            char name[32];
            snprintf(name, sizeof name, "body layer %u", k + 1);
            nonfinite = puffernet_check_linear(&n->body[k], name, bad, sizeof bad);
        }
    }
    nonfinite = nonfinite || puffernet_check_linear(&n->actor, "actor", bad, sizeof bad) ||
                puffernet_check_linear(&n->critic, "critic", bad, sizeof bad);
    if (nonfinite) {
        free(n->weights); n->weights = NULL;
        snprintf(msg, sizeof msg, "%s holds a non-finite weight: %s (training diverged or the file "
                 "is corrupted; export a checkpoint from before the NaNs)", path, bad);
        return puffernet_fail(err, err_len, msg);
    }
    // Scratch buffers: sizes are bounded by the checks above (<= 2^21 floats).
    size_t widest = n->obs_size > 4u * H ? n->obs_size : 4u * H;
    if ((size_t)n->self_size + n->entity_hidden > widest) widest = (size_t)n->self_size + n->entity_hidden;
    n->x = calloc(widest, sizeof(float));
    n->y = calloc(widest, sizeof(float));
    n->gates = calloc(widest, sizeof(float));
    if (!n->x || !n->y || !n->gates) {
        snprintf(msg, sizeof msg, "out of memory allocating 3 scratch buffers of %zu bytes for %s",
                 widest * sizeof(float), path);
        puffernet_free(n);
        return puffernet_fail(err, err_len, msg);
    }
    if (n->arch == ARCH_LSTM && puffernet_init_agents(n, 1, err, err_len)) { puffernet_free(n); return 1; }
    return 0;
}

// Loads and validates a weight file: reads it whole, then
// puffernet_load_memory does every check.
static int puffernet_load(PufferNet* n, const char* path, int expect_obs_size,
                          int expect_num_actions, char* err, int err_len) {
    char msg[512];
    memset(n, 0, sizeof(*n));
    // [CONTRACT] Only a regular file is sized and read: fopen opens a
    // directory too, and its "size" would then ask malloc for ~2^63 bytes.
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        snprintf(msg, sizeof msg, "weights path %s is %s, not a weight file (pass the .bin written "
                 "by puffer-learn export)", path,
                 S_ISDIR(st.st_mode) ? "a directory" : "a device, pipe or socket");
        return puffernet_fail(err, err_len, msg);
    }
    FILE* f = fopen(path, "rb");
    if (!f) { snprintf(msg, sizeof msg, "cannot open weight file %s", path); return puffernet_fail(err, err_len, msg); }
    long bytes = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    unsigned char* data = bytes >= 0 ? malloc((size_t)bytes + 1) : NULL;
    if (!data) {
        fclose(f);
        snprintf(msg, sizeof msg, "cannot read weight file %s (%ld bytes)", path, bytes);
        return puffernet_fail(err, err_len, msg);
    }
    fseek(f, 0, SEEK_SET);
    size_t got = fread(data, 1, (size_t)bytes, f);
    fclose(f);
    int failed = got != (size_t)bytes
        ? puffernet_fail(err, err_len, "short read of the weights")
        : puffernet_load_memory(n, data, got, path, expect_obs_size, expect_num_actions, err, err_len);
    free(data);
    return failed;
}

// Zero an agent's memory: call when its episode ends.
static void puffernet_reset_agent(PufferNet* n, int agent) {
    if (!n->h) return;
    memset(n->h + (size_t)agent * n->hidden, 0, n->hidden * sizeof(float));
    memset(n->c + (size_t)agent * n->hidden, 0, n->hidden * sizeof(float));
}

// ---- The forward pass: one agent, one observation ----------------------------
// obs holds obs_size floats (convert uint8 observations to float first: see
// puffernet_obs_to_float). Writes num_actions logits and one value.
static void puffernet_forward(PufferNet* n, int agent, const float* obs, float* logits, float* value) {
    float *x = n->x, *y = n->y;
    int H = n->hidden;
    if (n->arch == ARCH_LSTM) {
        linear(&n->encoder, obs, x);
        relu(x, H);
        float* h = n->h + (size_t)agent * H;
        float* c = n->c + (size_t)agent * H;
        lstm_cell(n, x, h, c, n->gates);
        memcpy(y, h, H * sizeof(float));
    } else {
        int width = n->obs_size;
        if (n->arch == ARCH_ENTITY) {  // [self features, pooled entity codes]
            memcpy(x, obs, n->self_size * sizeof(float));
            entity_encode(n, obs, x + n->self_size, n->gates);
            width = n->self_size + n->entity_hidden;
        } else {
            memcpy(x, obs, width * sizeof(float));
        }
        for (uint32_t k = 0; k < n->num_layers; k++) {
            linear(&n->body[k], x, y);
            relu(y, H);
            float* t = x; x = y; y = t;
        }
        memcpy(y, x, H * sizeof(float));
    }
    linear(&n->actor, y, logits);
    linear(&n->critic, y, value);
}

// uint8 observations (e.g. pixels or grid cells) must become floats before
// the network sees them: the network was trained on float tensors.
static void puffernet_obs_to_float(const uint8_t* obs, float* out, int n) {
    for (int i = 0; i < n; i++) out[i] = (float)obs[i];
}

// ---- Choosing an action -------------------------------------------------------
// Sample from softmax(logits), as training did. u is uniform in [0, 1).
static int puffernet_sample(const float* logits, int n, float u) {
    float max = logits[0], total = 0;
    for (int a = 1; a < n; a++) max = logits[a] > max ? logits[a] : max;
    for (int a = 0; a < n; a++) total += expf(logits[a] - max);
    float pick = u * total, run = 0;
    for (int a = 0; a < n; a++) {
        run += expf(logits[a] - max);
        if (pick < run) return a;
    }
    return n - 1;
}

// The most likely action. Beware: a policy that learned "mostly go right,
// sometimes up" becomes "always right" and can stick to a wall forever.
static int puffernet_argmax(const float* logits, int n) {
    int best = 0;
    for (int a = 1; a < n; a++) if (logits[a] > logits[best]) best = a;
    return best;
}


#endif
