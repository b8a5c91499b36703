// vec_binding.h: the one generic binding. puffer_learn compiles
//
//     #include "your_env.h"
//     #include "vec_binding.h"
//
// into a Python extension with cffi. It turns any env that follows
// puffer_env.h into a vectorized env: num_envs copies of Env whose buffer
// pointers are slices of the shared numpy arrays. One Python call steps them
// all; C loops over envs (optionally split over a few threads).
#include <pthread.h>
#include <fcntl.h>
#include <unistd.h>

typedef struct VecEnv {
    Env* envs;
    int num_envs;
    int num_threads;
    Spaces spaces;
} VecEnv;

void pl_defaults(Config* out) {
    memset(out, 0, sizeof(Config));
    env_defaults(out);
}

int pl_check(Config* cfg, char* err, int err_len) {
    return env_check(cfg, err, err_len);
}

void pl_spaces(Config* cfg, Spaces* out) {
    memset(out, 0, sizeof(Spaces));
    env_spaces(cfg, out);
}

// 1 if observations are floating point, 0 if integers; and the byte size.
int pl_obs_is_float(void) { return (OBS_TYPE)0.5 != (OBS_TYPE)0; }
int pl_obs_itemsize(void) { return (int)sizeof(OBS_TYPE); }

// Env i's generator depends on the vector seed and on i only, so env i
// replays the same episodes whatever num_envs is.
static void pl_seed_envs(VecEnv* v, uint64_t seed) {
    for (int i = 0; i < v->num_envs; i++)
        v->envs[i].rng = pl_seed(seed * 0x100000001B3ULL + (uint64_t)i);
}

VecEnv* pl_vec_init(Config* cfg, int num_envs, void* observations, int* actions,
                    float* rewards, uint8_t* terminals, uint8_t* truncations,
                    uint64_t seed, int num_threads) {
    VecEnv* v = calloc(1, sizeof(VecEnv));
    v->envs = calloc(num_envs, sizeof(Env));
    v->num_envs = num_envs;
    v->num_threads = num_threads < 1 ? 1 : num_threads;
    env_spaces(cfg, &v->spaces);
    int agents = v->spaces.num_agents, obs_size = v->spaces.obs_size;
    for (int i = 0; i < num_envs; i++) {
        Env* env = &v->envs[i];
        int first = i * agents;
        env->observations = (OBS_TYPE*)observations + (size_t)first * obs_size;
        env->actions = actions + first;
        env->rewards = rewards + first;
        env->terminals = terminals + first;
        env->truncations = truncations + first;
        env->cfg = *cfg;
        env->num_agents = agents;
        env->obs_size = obs_size;
        env->render_t = 1.0f;
        env_init(env);
    }
    pl_seed_envs(v, seed);
    return v;
}

void pl_vec_reset(VecEnv* v, uint64_t seed) {
    pl_seed_envs(v, seed);
    for (int i = 0; i < v->num_envs; i++) {
        Env* env = &v->envs[i];
        memset(env->rewards, 0, env->num_agents * sizeof(float));
        memset(env->terminals, 0, env->num_agents);
        memset(env->truncations, 0, env->num_agents);
        env_reset(env);
    }
}

// Steps envs [start, end): the whole auto-reset loop lives here.
static void pl_step_range(VecEnv* v, int start, int end) {
    for (int i = start; i < end; i++) {
        Env* env = &v->envs[i];
        if (env_step(env)) env_reset(env);
    }
}

typedef struct { VecEnv* v; int start, end; } PlChunk;
static void* pl_step_chunk(void* arg) {
    PlChunk* c = (PlChunk*)arg;
    pl_step_range(c->v, c->start, c->end);
    return NULL;
}

void pl_vec_step(VecEnv* v) {
    int t = v->num_threads < v->num_envs ? v->num_threads : v->num_envs;
    if (t <= 1) { pl_step_range(v, 0, v->num_envs); return; }
    pthread_t threads[64];
    PlChunk chunks[64];
    if (t > 64) t = 64;
    for (int k = 0; k < t; k++) {
        chunks[k] = (PlChunk){v, v->num_envs * k / t, v->num_envs * (k + 1) / t};
        if (k > 0) pthread_create(&threads[k], NULL, pl_step_chunk, &chunks[k]);
    }
    pl_step_chunk(&chunks[0]);  // the calling thread does the first chunk
    for (int k = 1; k < t; k++) pthread_join(threads[k], NULL);
}

void pl_vec_scripted(VecEnv* v, int* actions) {
    for (int i = 0; i < v->num_envs; i++)
        env_scripted(&v->envs[i], actions + i * v->spaces.num_agents);
}

// Sums every env's log into *out, then clears them (each read reports only
// the episodes finished since the previous read).
void pl_vec_log(VecEnv* v, Log* out) {
    memset(out, 0, sizeof(Log));
    float* total = (float*)out;
    for (int i = 0; i < v->num_envs; i++) {
        float* part = (float*)&v->envs[i].log;
        for (size_t k = 0; k < sizeof(Log) / sizeof(float); k++) total[k] += part[k];
        memset(&v->envs[i].log, 0, sizeof(Log));
    }
}

// Opens (or resizes) the one raylib window of this process. Under
// SDL_VIDEODRIVER=dummy it is an offscreen software framebuffer.
static int pl_open_window(int width, int height) {
    if (IsWindowReady()) {
        if (GetScreenWidth() == width && GetScreenHeight() == height) return 1;
        CloseWindow();
    }
    SetTraceLogLevel(LOG_ERROR);
    // The software renderer prints an INFO line to stdout whatever the log
    // level; hide it so command-line tools keep a clean stdout.
    fflush(stdout);
    int saved = dup(1), devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) dup2(devnull, 1);
    InitWindow(width, height, "puffer_learn");
    fflush(stdout);
    if (devnull >= 0) { dup2(saved, 1); close(devnull); }
    close(saved);
    if (!IsWindowReady()) return 0;
    SetTargetFPS(0);
    // The first frame read back after opening is empty: draw one and drop it.
    BeginDrawing(); ClearBackground(BLACK); EndDrawing();
    Image warmup = LoadImageFromScreen();
    UnloadImage(warmup);
    return 1;
}

// Draws env i at moment t of its last step (1 = now) and copies the frame
// into rgb (height * width * 3 bytes). Returns 0 when no window could open.
int pl_vec_render(VecEnv* v, int i, uint8_t* rgb, float t) {
    int w = v->spaces.render_width, h = v->spaces.render_height;
    if (!pl_open_window(w, h)) return 0;
    v->envs[i].render_t = t;
    BeginDrawing();
    env_render(&v->envs[i]);
    EndDrawing();
    Image img = LoadImageFromScreen();
    if (img.data == NULL || img.width != w || img.height != h) { UnloadImage(img); return 0; }
    // The software renderer hands back BGRA rows bottom-up: swap to RGB,
    // drop alpha and flip rows so row 0 is the top of the arena.
    const uint8_t* px = (const uint8_t*)img.data;
    for (int y = 0; y < h; y++) {
        const uint8_t* src = px + (size_t)(h - 1 - y) * w * 4;
        uint8_t* dst = rgb + (size_t)y * w * 3;
        for (int x = 0; x < w; x++) {
            dst[3 * x + 0] = src[4 * x + 2];
            dst[3 * x + 1] = src[4 * x + 1];
            dst[3 * x + 2] = src[4 * x + 0];
        }
    }
    UnloadImage(img);
    return 1;
}

void pl_vec_close(VecEnv* v) {
    for (int i = 0; i < v->num_envs; i++) env_close(&v->envs[i]);
    free(v->envs);
    free(v);
}
