// --8<-- [start:contract]
// puffer_env.h: the contract every puffer_learn environment follows.
//
// An environment is one C header that includes this file and then defines:
//
//   typedef struct Log {...} Log;       episode statistics, ALL floats, `n` last.
//                                       The env adds one finished episode's
//                                       numbers to env->log and does n += 1;
//                                       Python reads the means. Must contain
//                                       `score` and `episode_length`.
//   typedef struct Config {...} Config; the env's settings: ints and floats
//                                       only (Python fills them by name). An
//                                       int setting may take named values:
//                                       with `enum { OBS_MODE_RAW = 0,
//                                       OBS_MODE_NORMALIZED = 1 };` in the
//                                       header, make(..., obs_mode="raw")
//                                       sets Config.obs_mode = 0.
//   typedef struct Env {...} Env;       must start with ENV_CONTRACT_FIELDS
//                                       (the shared-buffer pointers, log,
//                                       rng, config), then anything you like.
//
//   static void env_defaults(Config* cfg);
//       the default settings (Python overrides them by name).
//   static int  env_check(const Config* cfg, char* err, int err_len);
//       0 if the config is valid, else writes a message and returns 1.
//   static void env_spaces(const Config* cfg, Spaces* out);
//       agents per env, observation size, number of actions (see Spaces),
//       render size. Called before any buffer exists.
//   static void env_init(Env* env);     allocate per-env state (from env->cfg)
//   static void env_reset(Env* env);    start an episode, write observations
//   static int  env_step(Env* env);     apply env->actions, write observations,
//                                       rewards, terminals, truncations; return
//                                       1 when the episode is over (the
//                                       binding then calls env_reset, so the
//                                       observations the trainer sees are the
//                                       first of the next episode)
//   static void env_scripted(Env* env, ACTION_TYPE* actions);
//       the scripted baseline: one action per agent (num_actions floats per
//       agent in a continuous env). "Solved" is measured as
//       a ratio of the trained score to this policy's score on the same seeds.
//   static void env_render(Env* env);   raylib draw calls for one frame (the
//                                       binding opens the window and reads the
//                                       pixels back; you only draw). Envs that
//                                       move things far in one step may draw
//                                       in-between frames: env->render_t runs
//                                       from 0 (the state before the last step)
//                                       to 1 (the current state, the default).
//   static void env_close(Env* env);    free what env_init allocated
//
// Rules that keep envs fast and reproducible:
//   - Time is counted in ticks (calls to env_step), never read from a clock.
//   - Randomness comes from pl_rand*(&env->rng), never from rand(): every env
//     has its own generator seeded from the vector's seed, so the same seed
//     always gives the same trajectories.
//   - Mark every function `static`: exported names like `step` collide with
//     libc symbols. The binding exports only names that start with `pl_`.
//   - Buffers belong to Python (numpy). Write into them; never free them.
//
// What puffer_learn checks, with a one-line error for each:
//   - env_spaces: num_agents, obs_size, num_actions and the render size are
//     >= 1 and at most 65536 / 2^24 / 65536 / 8192 (vec_core.h).
//   - env_step returns 1 only after setting a terminal or truncation flag of
//     its agents (checked in the smoke run of a new env).
//   - every action handed to env_step is in 0..num_actions-1: the binding
//     refuses a buffer holding anything else before any env steps.
//     Continuous envs: a NaN or infinite action is refused the same way, and
//     actions outside [action_low, action_high] are clipped into it, in the
//     buffer itself (vec_actions.h); action_low < action_high is checked.
//   - your own envs (a path or source string) run in a worker process: a
//     crash, abort() or exit() in your code, at any step, becomes
//     EnvCrashError with your file:line; the notebook kernel keeps running.
// --8<-- [end:contract]
#ifndef PUFFER_ENV_H
#define PUFFER_ENV_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include "raylib.h"

// --8<-- [start:buffers]
// Observations are float32 unless the env defines OBS_TYPE (e.g. uint8_t)
// before including this header.
#ifndef OBS_TYPE
#define OBS_TYPE float
#endif
// Actions are discrete (one int per agent) unless the env defines
// `#define ACTION_TYPE float` before including this header: continuous
// actions, num_actions floats per agent.
#ifndef ACTION_TYPE
#define ACTION_TYPE int
#endif

typedef struct Spaces {
    int num_agents;      // agents (players) inside one env
    int obs_size;        // numbers observed per agent
    int num_actions;     // discrete: actions 0 .. num_actions-1, one per agent;
                         // continuous: floats per agent (see action_low)
    int render_width;    // frame size in pixels
    int render_height;
    // Optional, for entity encoders: observations are "self features, then
    // num_entities objects of entity_size features each". Leave 0 otherwise.
    int num_entities;
    int entity_size;
    // Optional: every observation lies in [obs_low, obs_high] (Gymnasium's
    // Box bounds). Leave both 0 when unknown: the bounds are then -inf..inf.
    float obs_low;
    float obs_high;
    // Continuous actions only (leave 0 for discrete): every action float
    // lies in [action_low, action_high]; the binding clips it there.
    float action_low;
    float action_high;
} Spaces;

// Every Env struct starts with these fields. The binding fills them in;
// env i's pointers point at its own slice of the shared numpy buffers.
#define ENV_CONTRACT_FIELDS                                                   \
    OBS_TYPE* observations; /* [num_agents * obs_size], written by the env */ \
    ACTION_TYPE* actions;   /* [num_agents] (x num_actions if continuous) */  \
    float* rewards;         /* [num_agents] */                                \
    uint8_t* terminals;     /* [num_agents] 1 = episode ended (a real end) */ \
    uint8_t* truncations;   /* [num_agents] 1 = episode cut off by a limit */ \
    Log log;                /* sums over finished episodes, n = count */      \
    uint64_t rng;           /* this env's random state: use pl_rand*() */     \
    Config cfg;             /* a copy of the settings */                      \
    int num_agents;         /* from env_spaces */                             \
    int obs_size;                                                             \
    float render_t;         /* 0..1: which moment of the last step to draw */
// --8<-- [end:buffers]

// ---- Random numbers: xorshift64*, one state per env -----------------------
static inline uint32_t pl_rand_u32(uint64_t* s) {
    uint64_t x = *s;
    x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
    *s = x;
    return (uint32_t)((x * 0x2545F4914F6CDD1DULL) >> 32);
}
// Uniform float in [0, 1)
static inline float pl_rand_float(uint64_t* s) {
    return (pl_rand_u32(s) >> 8) * (1.0f / 16777216.0f);
}
// Uniform float in [lo, hi)
static inline float pl_rand_range(uint64_t* s, float lo, float hi) {
    return lo + (hi - lo) * pl_rand_float(s);
}
// Uniform int in [0, n)
static inline int pl_rand_int(uint64_t* s, int n) {
    return (int)(((uint64_t)pl_rand_u32(s) * (uint64_t)n) >> 32);
}
// Turns any seed (0 included) into a well-mixed, non-zero generator state.
static inline uint64_t pl_seed(uint64_t seed) {
    uint64_t z = seed + 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return z ? z : 1;
}

#endif
