// demo_play.h: a trained policy playing one env, shared by the native demo
// (demo.c) and the web page (web/web_main.c) so that both play the very same
// game: same start, same actions, same sampling draws, same logs.
// Include it after the env, vec_binding.h and puffernet.h.

// What a tick reads and writes besides the env itself.
typedef struct DemoPlay {
    VecEnv* vec;      // one env
    PufferNet* net;
    int argmax;       // 1: the most likely action; 0: sampled from the policy
    uint64_t rng;     // the policy's own sampling generator
    float* x;         // scratch: one agent's observation as floats (obs_size)
    float* logits;    // scratch: its logits (num_actions)
    Log total;        // every Log field summed over the episodes finished so far
} DemoPlay;

// calloc, or NULL with a message in err naming what did not fit.
static void* demo_calloc(const char* what, size_t count, size_t size, char* err, int err_len) {
    void* p = calloc(count, size);
    if (!p) pl_fail(err, err_len, "out of memory allocating %s (%zu x %zu bytes)", what, count, size);
    return p;
}

// Checks the loaded net fits the env (weights_name names it in messages),
// allocates the env's buffers (they live as long as the program) and starts
// the env and the policy's sampling generator from seed. Returns 0, or 1
// with the message in err.
static int demo_start(DemoPlay* d, Config* cfg, const Spaces* sp, PufferNet* net, const char* weights_name,
                      int argmax, uint64_t seed, char* err, int err_len) {
    if (net->obs_dtype != (pl_obs_is_float() ? 0u : 1u))
        return pl_fail(err, err_len, "%s was trained on %s observations but this env emits %s", weights_name,
                       net->obs_dtype ? "uint8" : "float32", pl_obs_is_float() ? "floats" : "integers");
    if (net->arch == ARCH_LSTM && puffernet_init_agents(net, sp->num_agents, err, err_len)) return 1;
    size_t agents = (size_t)sp->num_agents;
    OBS_TYPE* obs; int* actions; float *rewards, *x, *logits; uint8_t *terminals, *truncations;
    if (!(obs = demo_calloc("observations", agents * sp->obs_size, sizeof(OBS_TYPE), err, err_len))
        || !(actions = demo_calloc("actions", agents, sizeof(int), err, err_len))
        || !(rewards = demo_calloc("rewards", agents, sizeof(float), err, err_len))
        || !(terminals = demo_calloc("terminals", agents, 1, err, err_len))
        || !(truncations = demo_calloc("truncations", agents, 1, err, err_len))
        || !(x = demo_calloc("the observation as floats", sp->obs_size, sizeof(float), err, err_len))
        || !(logits = demo_calloc("logits", sp->num_actions, sizeof(float), err, err_len)))
        return 1;
    VecEnv* vec = pl_vec_init(cfg, 1, obs, actions, rewards, terminals, truncations, seed, 1, err, err_len);
    if (!vec) return 1;
    pl_vec_reset(vec, seed);
    *d = (DemoPlay){.vec = vec, .net = net, .argmax = argmax, .rng = pl_seed(seed ^ 0xDE110ULL),
                    .x = x, .logits = logits};
    return 0;
}

// One tick: every agent acts (in order), the env steps (auto-reset
// included), agents whose episode ended forget their LSTM memory, and the
// env's logs are added to d->total.
static void demo_tick(DemoPlay* d) {
    Env* env = &d->vec->envs[0];
    int agents = d->vec->spaces.num_agents, obs_size = d->vec->spaces.obs_size;
    int num_actions = d->vec->spaces.num_actions;
    for (int a = 0; a < agents; a++) {
        const OBS_TYPE* o = env->observations + (size_t)a * obs_size;
        for (int k = 0; k < obs_size; k++) d->x[k] = (float)o[k];  // dtype: always float
        float value;
        puffernet_forward(d->net, a, d->x, d->logits, &value);
        env->actions[a] = d->argmax ? puffernet_argmax(d->logits, num_actions)
                                    : puffernet_sample(d->logits, num_actions, pl_rand_float(&d->rng));
    }
    pl_vec_step(d->vec);
    for (int a = 0; a < agents; a++)
        if (env->terminals[a] || env->truncations[a]) puffernet_reset_agent(d->net, a);
    Log part;
    pl_vec_log(d->vec, &part);
    float *t = (float*)&d->total, *p = (float*)&part;
    for (size_t k = 0; k < sizeof(Log) / sizeof(float); k++) t[k] += p[k];
}
