// vec_core.h: the env core of the binding (part of vec_binding.h): make,
// reset, step, log and close num_envs copies of Env over shared buffers.
// It is everything every build has, the WebAssembly page (PL_CORE_ONLY)
// included, so it uses nothing beyond the C library, vec_threads.h and
// vec_actions.h.
#include <stdarg.h>

// [DESIGN] Sizes the binding accepts from env_spaces. Anything outside is an
// env bug (a typo, an unset field), refused before any buffer exists.
#define PL_MAX_AGENTS (1 << 16)
#define PL_MAX_OBS_SIZE (1 << 24)
#define PL_MAX_ACTIONS (1 << 16)
#define PL_MAX_RENDER 8192

typedef struct VecEnv {
    Env* envs;
    int num_envs;
    Spaces spaces;
    ACTION_TYPE* actions;  // the whole actions buffer (vec_actions.h)
    int total_actions;     // values in it: agents x (1, or num_actions if continuous)
    int unflagged_ends;  // episodes that ended with no terminal/truncation flag
    PlPool* pool;        // NULL with one thread
} VecEnv;

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

void pl_defaults(Config* out) { memset(out, 0, sizeof(Config)); env_defaults(out); }
int pl_check(Config* cfg, char* err, int err_len) { return env_check(cfg, err, err_len); }
void pl_spaces(Config* cfg, Spaces* out) { memset(out, 0, sizeof(Spaces)); env_spaces(cfg, out); }

// [CONTRACT] Every size from env_spaces is >= 1 and within the limits above,
// and a continuous env's action bounds are sane (vec_actions.h). Returns 0 if
// so, else writes which one is wrong and returns 1.
int pl_check_spaces(const Spaces* s, char* err, int err_len) {
    const char* names[] = {"num_agents", "obs_size", "num_actions", "render_width", "render_height"};
    int values[] = {s->num_agents, s->obs_size, s->num_actions, s->render_width, s->render_height};
    int limits[] = {PL_MAX_AGENTS, PL_MAX_OBS_SIZE, PL_MAX_ACTIONS, PL_MAX_RENDER, PL_MAX_RENDER};
    for (int k = 0; k < 5; k++)
        if (values[k] < 1 || values[k] > limits[k])
            return pl_fail(err, err_len, "env_spaces set %s = %d; it must be between 1 and %d",
                           names[k], values[k], limits[k]);
    return pl_check_action_bounds(s, err, err_len);
}

// For the C programs that drive the binding themselves (demo.c, web_main.c,
// profile_main.c): checks cfg with env_check, then the spaces it gives.
// Returns 0, or 1 with the message in err.
static int pl_checked_spaces(Config* cfg, Spaces* out, char* err, int err_len) {
    char why[400];
    if (env_check(cfg, why, sizeof why)) return pl_fail(err, err_len, "bad env config: %s", why);
    pl_spaces(cfg, out);
    return pl_check_spaces(out, err, err_len);
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

// Steps envs [start, end) of the VecEnv ctx: the whole auto-reset loop lives here.
static void pl_step_range(void* ctx, int start, int end) {
    VecEnv* v = (VecEnv*)ctx;
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

// Returns NULL, with a message in err, when the spaces break the contract or
// memory runs out; the message names what was being allocated and its size.
VecEnv* pl_vec_init(Config* cfg, int num_envs, void* observations, void* actions,
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
    int agents = v->spaces.num_agents, obs_size = v->spaces.obs_size, width = pl_action_width(&v->spaces);
    v->actions = actions;
    v->total_actions = num_envs * agents * width;
    for (int i = 0; i < num_envs; i++) {
        Env* env = &v->envs[i];
        size_t first = (size_t)i * agents;
        env->observations = (OBS_TYPE*)observations + first * obs_size;
        env->actions = (ACTION_TYPE*)actions + first * width;
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
    v->pool = pl_pool_start(num_threads, num_envs, pl_step_range, v);
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

// Steps every env once and returns 0; or, if the actions buffer holds a bad
// value (vec_actions.h), steps nothing and returns 1 + that value's index.
int pl_vec_step(VecEnv* v) {
    int bad = pl_check_actions(v->actions, v->total_actions, &v->spaces);
    if (bad) return bad;
    if (v->pool) pl_pool_run(v->pool);  // the caller steps envs too
    else pl_step_range(v, 0, v->num_envs);
    return 0;
}

// Episodes that ended (env_step returned 1) without any flag, since the last call.
int pl_vec_unflagged_ends(VecEnv* v) {
    return __atomic_exchange_n(&v->unflagged_ends, 0, __ATOMIC_RELAXED);
}

// Writes the scripted baseline's actions into `actions`, laid out as the actions buffer.
void pl_vec_scripted(VecEnv* v, void* actions) {
    size_t per_env = (size_t)v->spaces.num_agents * pl_action_width(&v->spaces);
    for (int i = 0; i < v->num_envs; i++)
        env_scripted(&v->envs[i], (ACTION_TYPE*)actions + i * per_env);
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

void pl_vec_close(VecEnv* v) {
    pl_pool_stop(v->pool);
    for (int i = 0; i < v->num_envs; i++) env_close(&v->envs[i]);
    free(v->envs);
    free(v);
}
