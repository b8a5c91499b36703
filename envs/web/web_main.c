// web_main.c: an env and its trained policy as a WebAssembly module, the
// page's twin of envs/demo.c (the native demo program).
//
// `puffer-learn export ENV --checkpoint P --out DIR --web` compiles this file
// with zig cc (puffer_learn/export/web.py):
//   -target wasm32-wasi -mexec-model=reactor -DPL_CORE_ONLY
//   -DENV_HEADER='"target/target.h"' -DDEMO_CONFIG='"DIR/ENV_config.h"'
// envs/web/player.js calls _initialize(), then pl_web_init(weights, seed,
// argmax) once, then pl_web_step() per tick and pl_web_render() per frame.
//
// [CONTRACT] Same seeding, same env loop and same score as demo.c: the env
// seed, the policy's sampling generator pl_seed(seed ^ 0xDE110), one env,
// agents acting in order, logs summed per tick until at least `episodes`
// episodes have finished. pl_web_result() is then demo.c's JSON line, byte
// for byte (with "frames": 0), which the parity tests compare.
#include "raylib_canvas.h"  // before the env: it stands in for raylib
#include ENV_HEADER
#include "vec_binding.h"
#include "puffernet.h"
#include DEMO_CONFIG

#define WEB_EXPORT(name) __attribute__((export_name(name)))

static Config cfg;
static Spaces sp;
static PufferNet net;
static VecEnv* vec;
static OBS_TYPE* obs;
static int *actions, argmax, episodes_wanted, done;
static float *rewards, *x, *logits;
static uint8_t *terminals, *truncations;
static uint64_t rng;
static Log total, at_done;
static long ticks;
static char error[512], result[2048];

// calloc or 0 with a message naming what did not fit.
static void* web_alloc(const char* what, size_t count, size_t size) {
    void* p = calloc(count, size);
    if (!p) snprintf(error, sizeof error, "out of memory allocating %s (%zu x %zu bytes)", what, count, size);
    return p;
}

// For the page: memory to copy the fetched weight file into.
WEB_EXPORT("pl_web_malloc") void* pl_web_malloc(int bytes) { return malloc(bytes > 0 ? bytes : 1); }
WEB_EXPORT("pl_web_error") const char* pl_web_error(void) { return error; }

// Loads the weights (len bytes at data, as written by `puffer-learn export`)
// and starts the env. Returns 0, or 1 with the message in pl_web_error().
WEB_EXPORT("pl_web_init")
int pl_web_init(const unsigned char* data, int len, double seed_value, int use_argmax, int episodes) {
    char err[512];
    uint64_t seed = (uint64_t)seed_value;  // the page checks it is an integer in 0..2^53
    argmax = use_argmax;
    episodes_wanted = episodes < 1 ? 1 : episodes;
    demo_config(&cfg);
    if (env_check(&cfg, err, sizeof err)) { snprintf(error, sizeof error, "bad env config: %s", err); return 1; }
    env_spaces(&cfg, &sp);
    if (pl_check_spaces(&sp, err, sizeof err)) { snprintf(error, sizeof error, "%s", err); return 1; }
    if (puffernet_load_memory(&net, data, len > 0 ? (size_t)len : 0, ENV_NAME "_demo.bin", sp.obs_size,
                              sp.num_actions, err, sizeof err)) {
        snprintf(error, sizeof error, "%s", err);
        return 1;
    }
    if (net.obs_dtype != (pl_obs_is_float() ? 0u : 1u)) {
        snprintf(error, sizeof error, "the weights were trained on %s observations but %s emits %s",
                 net.obs_dtype ? "uint8" : "float32", ENV_NAME, pl_obs_is_float() ? "floats" : "integers");
        return 1;
    }
    if (net.arch == ARCH_LSTM && puffernet_init_agents(&net, sp.num_agents, err, sizeof err)) {
        snprintf(error, sizeof error, "%s", err);
        return 1;
    }
    obs = web_alloc("observations", (size_t)sp.num_agents * sp.obs_size, sizeof(OBS_TYPE));
    actions = web_alloc("actions", sp.num_agents, sizeof(int));
    rewards = web_alloc("rewards", sp.num_agents, sizeof(float));
    terminals = web_alloc("terminals", sp.num_agents, 1);
    truncations = web_alloc("truncations", sp.num_agents, 1);
    x = web_alloc("the observation as floats", sp.obs_size, sizeof(float));
    logits = web_alloc("logits", sp.num_actions, sizeof(float));
    if (!obs || !actions || !rewards || !terminals || !truncations || !x || !logits) return 1;
    vec = pl_vec_init(&cfg, 1, obs, actions, rewards, terminals, truncations, seed, 1, err, sizeof err);
    if (!vec) { snprintf(error, sizeof error, "%s", err); return 1; }
    pl_vec_reset(vec, seed);
    rng = pl_seed(seed ^ 0xDE110ULL);  // the policy's own sampling generator, as demo.c
    return 0;
}

// One tick: every agent acts, the env steps, finished episodes are counted.
// Returns the number of finished episodes so far.
WEB_EXPORT("pl_web_step") int pl_web_step(void) {
    for (int a = 0; a < sp.num_agents; a++) {
        const OBS_TYPE* o = obs + (size_t)a * sp.obs_size;
        for (int k = 0; k < sp.obs_size; k++) x[k] = (float)o[k];
        float value;
        puffernet_forward(&net, a, x, logits, &value);
        actions[a] = argmax ? puffernet_argmax(logits, sp.num_actions)
                            : puffernet_sample(logits, sp.num_actions, pl_rand_float(&rng));
    }
    pl_vec_step(vec);
    for (int a = 0; a < sp.num_agents; a++)
        if (terminals[a] || truncations[a]) puffernet_reset_agent(&net, a);
    Log part;
    pl_vec_log(vec, &part);
    float *t = (float*)&total, *p = (float*)&part;
    for (size_t k = 0; k < sizeof(Log) / sizeof(float); k++) t[k] += p[k];
    ticks++;
    // demo.c stops at the first tick that brings the count to `episodes`:
    // its numbers are frozen here, and the page plays on.
    if (!done && total.n >= episodes_wanted) { done = 1; at_done = total; }
    return (int)total.n;
}

WEB_EXPORT("pl_web_render") void pl_web_render(void) { env_render(&vec->envs[0]); }
WEB_EXPORT("pl_web_width") int pl_web_width(void) { return sp.render_width; }
WEB_EXPORT("pl_web_height") int pl_web_height(void) { return sp.render_height; }
WEB_EXPORT("pl_web_agents") int pl_web_agents(void) { return sp.num_agents; }
WEB_EXPORT("pl_web_done") int pl_web_done(void) { return done; }
WEB_EXPORT("pl_web_episodes") int pl_web_episodes(void) { return (int)total.n; }

// demo.c's JSON line: every Log field as a mean over the episodes played
// (frozen at `done`; before that, over the episodes finished so far).
WEB_EXPORT("pl_web_result") const char* pl_web_result(void) {
    Log* l = done ? &at_done : &total;
    float n = l->n > 0 ? l->n : 1;
    int at = snprintf(result, sizeof result, "{\"env\": \"%s\", \"episodes\": %d, \"policy\": \"%s\"",
                      ENV_NAME, (int)l->n, argmax ? "argmax" : "sample");
    for (size_t k = 0; k < sizeof(LOG_FIELDS) / sizeof(LOG_FIELDS[0]) && at < (int)sizeof result; k++)
        at += snprintf(result + at, sizeof result - at, ", \"%s\": %.6g", LOG_FIELDS[k], ((float*)l)[k] / n);
    if (at < (int)sizeof result) snprintf(result + at, sizeof result - at, ", \"frames\": 0}");
    return result;
}
