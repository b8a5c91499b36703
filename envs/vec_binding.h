// vec_binding.h: the one generic binding. puffer_learn compiles
//
//     #include "your_env.h"
//     #include "vec_binding.h"
//
// into a Python extension with cffi. It turns any env that follows
// puffer_env.h into a vectorized env: num_envs copies of Env whose buffer
// pointers are slices of the shared numpy arrays. One Python call steps them
// all; C loops over envs (optionally split over a few threads).
//
// PL_CORE_ONLY (defined by the WebAssembly build, puffer_learn/export/web.py) keeps
// only the env core (pl_vec_init/reset/step/log): no raylib window, no frame
// read-back and no crash reports, which need POSIX calls WASI lacks (dup,
// signals, backtraces). The page draws through envs/web/raylib_canvas.h.
#include <pthread.h>
#include <stdarg.h>
#ifndef PL_CORE_ONLY
#include <sched.h>
#include <fcntl.h>
#include <unistd.h>
#include <signal.h>
#include <execinfo.h>
#endif

// [DESIGN] Sizes the binding accepts from env_spaces. Anything outside is an
// env bug (a typo, an unset field), refused before any buffer exists.
#define PL_MAX_AGENTS (1 << 16)
#define PL_MAX_OBS_SIZE (1 << 24)
#define PL_MAX_ACTIONS (1 << 16)
#define PL_MAX_RENDER 8192

// [DESIGN] A persistent pool: num_threads - 1 workers are started once, in
// pl_vec_init, and sleep between steps. Each step the caller and the workers
// take blocks of envs from a shared counter until none is left, so a thread
// the OS descheduled (the machine is shared) delays nobody: the others take
// its blocks. Envs are independent, so who steps which env does not change
// any number.
typedef struct PlPool {
    pthread_t threads[63];
    int num_workers;
    int block;                 // envs taken at a time
    uint64_t work;             // (step generation << 32) | next env to take
    int busy;                  // workers between "may take a block" and "done"
    int quit;
    uint32_t generation;       // the step the workers were last woken for
    pthread_mutex_t lock;
    pthread_cond_t wake;
} PlPool;

typedef struct VecEnv {
    Env* envs;
    int num_envs;
    int num_threads;
    Spaces spaces;
    int* actions;        // the whole actions buffer: num_envs * num_agents ints
    int total_agents;
    int unflagged_ends;  // episodes that ended with no terminal/truncation flag
    PlPool* pool;        // NULL with one thread
} VecEnv;
static void pl_pool_start(VecEnv* v);  // defined with pl_vec_step, below
static void pl_pool_stop(VecEnv* v);

// printf into err (when given); returns 1 so callers can `return pl_fail(...)`.
static int pl_fail(char* err, int err_len, const char* fmt, ...) {
    if (err && err_len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_len, fmt, ap);
        va_end(ap);
    }
    return 1;
}

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

// [CONTRACT] Every size from env_spaces is >= 1 and within the limits above.
// Returns 0 if so, else writes which one is wrong and returns 1.
int pl_check_spaces(const Spaces* s, char* err, int err_len) {
    const char* names[] = {"num_agents", "obs_size", "num_actions", "render_width", "render_height"};
    int values[] = {s->num_agents, s->obs_size, s->num_actions, s->render_width, s->render_height};
    int limits[] = {PL_MAX_AGENTS, PL_MAX_OBS_SIZE, PL_MAX_ACTIONS, PL_MAX_RENDER, PL_MAX_RENDER};
    for (int k = 0; k < 5; k++)
        if (values[k] < 1 || values[k] > limits[k])
            return pl_fail(err, err_len, "env_spaces set %s = %d; it must be between 1 and %d",
                           names[k], values[k], limits[k]);
    return 0;
}

// 1 if observations are floating point, 0 if integers; and the byte size.
int pl_obs_is_float(void) { return (OBS_TYPE)0.5 != (OBS_TYPE)0; }
int pl_obs_itemsize(void) { return (int)sizeof(OBS_TYPE); }
// Bytes of one Env struct (Python checks num_envs * this before allocating).
size_t pl_env_bytes(void) { return sizeof(Env); }

// Env i's generator depends on the vector seed and on i only, so env i
// replays the same episodes whatever num_envs is.
static void pl_seed_envs(VecEnv* v, uint64_t seed) {
    for (int i = 0; i < v->num_envs; i++)
        v->envs[i].rng = pl_seed(seed * 0x100000001B3ULL + (uint64_t)i);
}

// Returns NULL, with a message in err, when the spaces break the contract or
// memory runs out; the message names what was being allocated and its size.
VecEnv* pl_vec_init(Config* cfg, int num_envs, void* observations, int* actions,
                    float* rewards, uint8_t* terminals, uint8_t* truncations,
                    uint64_t seed, int num_threads, char* err, int err_len) {
    if (num_envs < 1) { pl_fail(err, err_len, "num_envs must be >= 1, got %d", num_envs); return NULL; }
    VecEnv* v = calloc(1, sizeof(VecEnv));
    if (!v) {
        pl_fail(err, err_len, "out of memory allocating the VecEnv (%zu bytes)", sizeof(VecEnv));
        return NULL;
    }
    env_spaces(cfg, &v->spaces);
    if (pl_check_spaces(&v->spaces, err, err_len)) { free(v); return NULL; }
    // calloc itself refuses a num_envs * sizeof(Env) that overflows.
    v->envs = calloc(num_envs, sizeof(Env));
    if (!v->envs) {
        pl_fail(err, err_len, "out of memory allocating %d Env structs of %zu bytes each "
                "(%.3g GB in all): make struct Env smaller (allocate big arrays in env_init) "
                "or use fewer envs", num_envs, sizeof(Env), (double)num_envs * sizeof(Env) / 1e9);
        free(v);
        return NULL;
    }
    v->num_envs = num_envs;
    v->num_threads = num_threads < 1 ? 1 : num_threads;
    int agents = v->spaces.num_agents, obs_size = v->spaces.obs_size;
    v->actions = actions;
    v->total_agents = num_envs * agents;
    for (int i = 0; i < num_envs; i++) {
        Env* env = &v->envs[i];
        size_t first = (size_t)i * agents;
        env->observations = (OBS_TYPE*)observations + first * obs_size;
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
    pl_pool_start(v);
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
        if (env_step(env)) {
            // [CONTRACT] an episode that ends sets a terminal or truncation
            // flag, else the trainer's advantages run across episodes.
            int flagged = 0;
            for (int a = 0; a < env->num_agents; a++) flagged |= env->terminals[a] | env->truncations[a];
            if (!flagged) __atomic_add_fetch(&v->unflagged_ends, 1, __ATOMIC_RELAXED);
            env_reset(env);
        }
    }
}

#ifdef PL_CORE_ONLY
// The web page (WASI) has no threads: envs step on the caller's thread.
static void pl_pool_start(VecEnv* v) { (void)v; }
static void pl_pool_stop(VecEnv* v) { (void)v; }
#else
// Takes blocks of envs of step `generation` and steps them until none is left.
static void pl_take_blocks(VecEnv* v, uint32_t generation) {
    PlPool* p = v->pool;
    uint64_t w = __atomic_load_n(&p->work, __ATOMIC_SEQ_CST);
    for (;;) {
        uint32_t start = (uint32_t)w;
        if ((uint32_t)(w >> 32) != generation || start >= (uint32_t)v->num_envs) return;
        // The compare-and-swap also checks the generation, so a late worker
        // can never take a block of the next step.
        if (__atomic_compare_exchange_n(&p->work, &w, w + p->block, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
            int end = start + p->block < (uint32_t)v->num_envs ? (int)start + p->block : v->num_envs;
            pl_step_range(v, (int)start, end);
            w = __atomic_load_n(&p->work, __ATOMIC_SEQ_CST);
        }
    }
}

static void* pl_worker(void* arg) {
    VecEnv* v = (VecEnv*)arg;
    PlPool* p = v->pool;
    uint32_t seen = 0;
    for (;;) {
        // Poll a little before sleeping: back-to-back steps then skip the
        // sleep/wake round trip, which costs about as long as a small step.
        // sched_yield lets other processes run meanwhile (shared machines).
        for (int k = 0; k < 200 && __atomic_load_n(&p->generation, __ATOMIC_ACQUIRE) == seen; k++)
            sched_yield();
        pthread_mutex_lock(&p->lock);
        while (p->generation == seen && !p->quit) pthread_cond_wait(&p->wake, &p->lock);
        seen = p->generation;
        int quit = p->quit;
        // Counted busy before taking any block: the caller waits for busy == 0.
        __atomic_add_fetch(&p->busy, 1, __ATOMIC_SEQ_CST);
        pthread_mutex_unlock(&p->lock);
        if (!quit) pl_take_blocks(v, seen);
        __atomic_sub_fetch(&p->busy, 1, __ATOMIC_SEQ_CST);
        if (quit) return NULL;
    }
}

// Starts the pool's workers; with none started, stepping stays single-threaded.
static void pl_pool_start(VecEnv* v) {
    int t = v->num_threads < v->num_envs ? v->num_threads : v->num_envs;
    if (t > 64) t = 64;
    if (t <= 1) return;
    PlPool* p = calloc(1, sizeof(PlPool));
    if (!p) return;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    p->block = v->num_envs / (4 * t) > 0 ? v->num_envs / (4 * t) : 1;  // ~4 blocks per thread
    v->pool = p;
    for (int k = 0; k < t - 1; k++)
        if (pthread_create(&p->threads[p->num_workers], NULL, pl_worker, v) == 0) p->num_workers++;
    if (p->num_workers == 0) {
        pthread_mutex_destroy(&p->lock);
        pthread_cond_destroy(&p->wake);
        free(p);
        v->pool = NULL;
    }
}

static void pl_pool_stop(VecEnv* v) {
    PlPool* p = v->pool;
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    p->quit = 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    for (int k = 0; k < p->num_workers; k++) pthread_join(p->threads[k], NULL);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->wake);
    free(p);
    v->pool = NULL;
}
#endif  // PL_CORE_ONLY (thread pool)

// Steps every env once and returns 0. [DESIGN] The actions buffer is shared
// with Python, where anyone may write anything into it, and env code indexes
// tables with actions: an action outside 0..num_actions-1 could make it read
// or write out of bounds. Such a buffer is refused before any env steps; the
// return value is then 1 + the index of the first bad action. The check is
// one unsigned compare per agent (vectorised), far below one env_step.
int pl_vec_step(VecEnv* v) {
    const unsigned num_actions = (unsigned)v->spaces.num_actions;
    const int* actions = v->actions;
    int bad = 0;
#ifndef PL_NO_ACTION_CHECK  // defined only by bench/isolation.py, to measure the check's cost
    for (int k = 0; k < v->total_agents; k++) bad |= (unsigned)actions[k] >= num_actions;
#endif
    if (bad)
        for (int k = 0; k < v->total_agents; k++)
            if ((unsigned)actions[k] >= num_actions) return k + 1;
    PlPool* p = v->pool;
#ifndef PL_CORE_ONLY
    if (!p) { pl_step_range(v, 0, v->num_envs); return 0; }
    pthread_mutex_lock(&p->lock);
    uint32_t generation = p->generation + 1;
    __atomic_store_n(&p->generation, generation, __ATOMIC_RELEASE);
    __atomic_store_n(&p->work, (uint64_t)generation << 32, __ATOMIC_SEQ_CST);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    pl_take_blocks(v, generation);  // the caller steps envs too
    // Every block is taken; wait until the workers finished the ones they took.
    while (__atomic_load_n(&p->busy, __ATOMIC_SEQ_CST) > 0) sched_yield();
#else
    (void)p;
    pl_step_range(v, 0, v->num_envs);
#endif
    return 0;
}

// Episodes that ended (env_step returned 1) without any flag, since the last call.
int pl_vec_unflagged_ends(VecEnv* v) {
    return __atomic_exchange_n(&v->unflagged_ends, 0, __ATOMIC_RELAXED);
}

#ifndef PL_CORE_ONLY
// ---- Crash reports ----------------------------------------------------------
// [DESIGN] A student's env runs in a worker process (or the smoke run's
// subprocess). When its code dies there, this prints "PL_CRASH: <what>" and
// the stack to stderr, so the parent can name the env's file:line:
//   - signals (segfault, abort, ...): a handler prints the stack, then lets
//     the signal kill the process as it would have;
//   - exit() called by env code: an atexit hook prints the stack; the
//     process calls pl_guard(0) before its own, normal exit.
// Under AddressSanitizer (the smoke run) ASan reports signals itself, with
// file:line; only the exit() hook is ours, using ASan's symbolizing printer.
static volatile sig_atomic_t pl_guard_on = 0;
#ifdef __SANITIZE_ADDRESS__
void __sanitizer_print_stack_trace(void);
#endif

static void pl_print_stack(const char* what) {
    const char* head = "PL_CRASH: ";
    if (write(2, head, strlen(head)) < 0 || write(2, what, strlen(what)) < 0 || write(2, "\n", 1) < 0) return;
#ifdef __SANITIZE_ADDRESS__
    __sanitizer_print_stack_trace();
#else
    void* frames[64];
    int n = backtrace(frames, 64);
    backtrace_symbols_fd(frames, n, 2);
#endif
}

static void pl_on_exit(void) {
    if (pl_guard_on) pl_print_stack("exit() was called inside the env's code");
}

#ifndef __SANITIZE_ADDRESS__
static void pl_on_signal(int sig) {
    pl_guard_on = 0;
    pl_print_stack(sig == SIGSEGV ? "SIGSEGV (invalid memory access)" : sig == SIGBUS ? "SIGBUS"
                   : sig == SIGFPE ? "SIGFPE (e.g. integer division by zero)"
                   : sig == SIGILL ? "SIGILL" : "SIGABRT (abort() or a failed assert)");
    signal(sig, SIG_DFL);
    raise(sig);
}
#endif

void pl_guard(int on) {
    static int installed = 0;
    pl_guard_on = on;
    if (!on || installed) return;
    installed = 1;
    atexit(pl_on_exit);
#ifndef __SANITIZE_ADDRESS__
    void* warm[1];
    backtrace(warm, 1);  // loads libgcc's unwinder now, not inside a signal handler
    static char alt[1 << 16];  // a stack for the handler, so stack overflows report too
    stack_t ss = {.ss_sp = alt, .ss_size = sizeof alt, .ss_flags = 0};
    sigaltstack(&ss, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = pl_on_signal;
    sa.sa_flags = SA_ONSTACK;
    int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
    for (int k = 0; k < 5; k++) sigaction(sigs[k], &sa, NULL);
#endif
}

#endif  // PL_CORE_ONLY (crash reports)

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

#ifndef PL_CORE_ONLY
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

#endif  // PL_CORE_ONLY (window)

void pl_vec_close(VecEnv* v) {
    pl_pool_stop(v);
    for (int i = 0; i < v->num_envs; i++) env_close(&v->envs[i]);
    free(v->envs);
    free(v);
}
