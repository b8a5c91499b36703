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
// and the same tick (demo_play.h), until at least `episodes` episodes have
// finished. pl_web_result() is then demo.c's JSON line, byte
// for byte (with "frames": 0), which the parity tests compare.
#include "raylib_canvas.h"  // before the env: it stands in for raylib
#include ENV_HEADER
#include "vec_binding.h"
#include "puffernet.h"
#include "demo_play.h"
#include DEMO_CONFIG

#define WEB_EXPORT(name) __attribute__((export_name(name)))

static Config cfg;
static Spaces sp;
static PufferNet net;
static DemoPlay play;  // the env, the policy and the logs so far
static int episodes_wanted, done;
static Log at_done;
static long ticks;
static char error[512], result[2048];

// For the page: memory to copy the fetched weight file into.
WEB_EXPORT("pl_web_malloc") void* pl_web_malloc(int bytes) { return malloc(bytes > 0 ? bytes : 1); }
WEB_EXPORT("pl_web_error") const char* pl_web_error(void) { return error; }

// Loads the weights (len bytes at data, as written by `puffer-learn export`)
// and starts the env. Returns 0, or 1 with the message in pl_web_error().
WEB_EXPORT("pl_web_init")
int pl_web_init(const unsigned char* data, int len, double seed_value, int use_argmax, int episodes) {
    char err[512];
    uint64_t seed = (uint64_t)seed_value;  // the page checks it is an integer in 0..2^53
    episodes_wanted = episodes < 1 ? 1 : episodes;
    demo_config(&cfg);
    if (pl_checked_spaces(&cfg, &sp, err, sizeof err)) { snprintf(error, sizeof error, "%s", err); return 1; }
    const char* weights = ENV_NAME "_demo.bin";
    if (puffernet_load_memory(&net, data, len > 0 ? (size_t)len : 0, weights, sp.obs_size, 0, err, sizeof err)
        || demo_start(&play, &cfg, &sp, &net, weights, use_argmax, seed, err, sizeof err)) {
        snprintf(error, sizeof error, "%s", err);
        return 1;
    }
    return 0;
}

// One tick (demo_play.h). Returns the number of finished episodes so far, or
// -1 (message in pl_web_error()) if the policy's action was NaN or inf.
WEB_EXPORT("pl_web_step") int pl_web_step(void) {
    int refused = demo_tick(&play);
    if (refused) {
        snprintf(error, sizeof error, "the policy's action %d is not a finite number (NaN or inf)", refused - 1);
        return -1;
    }
    ticks++;
    // demo.c stops at the first tick that brings the count to `episodes`:
    // its numbers are frozen here, and the page plays on.
    if (!done && play.total.n >= episodes_wanted) { done = 1; at_done = play.total; }
    return (int)play.total.n;
}

WEB_EXPORT("pl_web_render") void pl_web_render(void) { env_render(&play.vec->envs[0]); }
WEB_EXPORT("pl_web_width") int pl_web_width(void) { return sp.render_width; }
WEB_EXPORT("pl_web_height") int pl_web_height(void) { return sp.render_height; }
WEB_EXPORT("pl_web_agents") int pl_web_agents(void) { return sp.num_agents; }
WEB_EXPORT("pl_web_done") int pl_web_done(void) { return done; }
WEB_EXPORT("pl_web_episodes") int pl_web_episodes(void) { return (int)play.total.n; }

// demo.c's JSON line: every Log field as a mean over the episodes played
// (frozen at `done`; before that, over the episodes finished so far).
WEB_EXPORT("pl_web_result") const char* pl_web_result(void) {
    Log* l = done ? &at_done : &play.total;
    float n = l->n > 0 ? l->n : 1;
    int at = snprintf(result, sizeof result, "{\"env\": \"%s\", \"episodes\": %d, \"policy\": \"%s\"",
                      ENV_NAME, (int)l->n, demo_policy_name(&play));
    for (size_t k = 0; k < sizeof(LOG_FIELDS) / sizeof(LOG_FIELDS[0]) && at < (int)sizeof result; k++)
        at += snprintf(result + at, sizeof result - at, ", \"%s\": %.6g", LOG_FIELDS[k], ((float*)l)[k] / n);
    if (at < (int)sizeof result) snprintf(result + at, sizeof result - at, ", \"frames\": 0}");
    return result;
}
