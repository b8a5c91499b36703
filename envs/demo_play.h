// demo_play.h: a trained policy playing one env, shared by the native demo
// (demo.c) and the web page (web/web_main.c) so that both play the very same
// game: same start, same actions, same sampling draws, same logs.
// Include it after the env, vec_binding.h and puffernet.h.
//
// Discrete envs: each agent's action is sampled from the policy's logits (or
// their argmax). Continuous envs: the policy outputs a mean and a log std per
// action float; the program plays the mean (no sampling), which the binding
// clips to [action_low, action_high] like every action (vec_actions.h).

// What a tick reads and writes besides the env itself.
typedef struct DemoPlay {
    VecEnv* vec;      // one env
    PufferNet* net;
    int argmax;       // 1: the most likely action; 0: sampled from the policy (discrete only)
    uint64_t rng;     // the policy's own sampling generator
    float* x;         // scratch: one agent's observation as floats (obs_size)
    float* logits;    // scratch: the network's outputs for it (demo_outputs)
    Log total;        // every Log field summed over the episodes finished so far
} DemoPlay;

// calloc, or NULL with a message in err naming what did not fit.
static void* demo_calloc(const char* what, size_t count, size_t size, char* err, int err_len) {
    void* p = calloc(count, size);
    if (!p) pl_fail(err, err_len, "out of memory allocating %s (%zu x %zu bytes)", what, count, size);
    return p;
}

// What the policy network outputs per agent: one logit per action, or for
// continuous actions a mean and a log std per action float.
static int demo_outputs(const Spaces* sp) { return PL_CONTINUOUS ? 2 * sp->num_actions : sp->num_actions; }

// How the JSON line names the way actions are chosen.
static const char* demo_policy_name(const DemoPlay* d) {
    return PL_CONTINUOUS ? "mean" : d->argmax ? "argmax" : "sample";
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
    if (net->num_actions != (uint32_t)demo_outputs(sp))
        return PL_CONTINUOUS
            ? pl_fail(err, err_len, "%s has %u outputs but the env's %d continuous actions need %d "
                      "(a mean and a log std each)", weights_name, net->num_actions, sp->num_actions,
                      demo_outputs(sp))
            : pl_fail(err, err_len, "%s has %u actions but the env has %d", weights_name, net->num_actions,
                      sp->num_actions);
    if (net->arch == ARCH_LSTM && puffernet_init_agents(net, sp->num_agents, err, err_len)) return 1;
    size_t agents = (size_t)sp->num_agents;
    OBS_TYPE* obs; ACTION_TYPE* actions; float *rewards, *x, *logits; uint8_t *terminals, *truncations;
    if (!(obs = demo_calloc("observations", agents * sp->obs_size, sizeof(OBS_TYPE), err, err_len))
        || !(actions = demo_calloc("actions", agents * pl_action_width(sp), sizeof(ACTION_TYPE), err, err_len))
        || !(rewards = demo_calloc("rewards", agents, sizeof(float), err, err_len))
        || !(terminals = demo_calloc("terminals", agents, 1, err, err_len))
        || !(truncations = demo_calloc("truncations", agents, 1, err, err_len))
        || !(x = demo_calloc("the observation as floats", sp->obs_size, sizeof(float), err, err_len))
        || !(logits = demo_calloc("the network's outputs", demo_outputs(sp), sizeof(float), err, err_len)))
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
// env's logs are added to d->total. Returns 0, or what pl_vec_step returned
// when it refused the actions (1 + the index of a NaN or inf output).
static int demo_tick(DemoPlay* d) {
    Env* env = &d->vec->envs[0];
    int agents = d->vec->spaces.num_agents, obs_size = d->vec->spaces.obs_size;
    int num_actions = d->vec->spaces.num_actions;
    for (int a = 0; a < agents; a++) {
        const OBS_TYPE* o = env->observations + (size_t)a * obs_size;
        for (int k = 0; k < obs_size; k++) d->x[k] = (float)o[k];  // dtype: always float
        float value;
        puffernet_forward(d->net, a, d->x, d->logits, &value);
        if (PL_CONTINUOUS)  // the means: the first num_actions outputs
            for (int k = 0; k < num_actions; k++) env->actions[(size_t)a * num_actions + k] = d->logits[k];
        else
            env->actions[a] = d->argmax ? puffernet_argmax(d->logits, num_actions)
                                        : puffernet_sample(d->logits, num_actions, pl_rand_float(&d->rng));
    }
    int refused = pl_vec_step(d->vec);
    if (refused) return refused;
    for (int a = 0; a < agents; a++)
        if (env->terminals[a] || env->truncations[a]) puffernet_reset_agent(d->net, a);
    Log part;
    pl_vec_log(d->vec, &part);
    float *t = (float*)&d->total, *p = (float*)&part;
    for (size_t k = 0; k < sizeof(Log) / sizeof(float); k++) t[k] += p[k];
    return 0;
}
