// profile_main.c: an env alone as a C program, for a profiler (lesson 6).
//
// puffer_learn/cenv/profiling.py compiles this file with gprof's instrumentation:
//   gcc -O2 -fno-inline -pg -static -DPL_CORE_ONLY -DENV_HEADER='"path/env.h"' ...
// -fno-inline keeps every function of the env its own line in the profile;
// -static links libc and libm into the program, so time spent inside malloc,
// clock or sinf is sampled and named too (gprof samples only the program's
// own code, not shared libraries). It steps num_envs envs with random
// actions through the same binding as Python (vec_binding.h), auto-reset
// included, and prints one JSON line: the stepping loop's wall time, and the
// CPU time the whole program used, in its own code and libraries (user) and
// inside the kernel, in system calls (sys): gprof cannot see into the kernel. raylib is not linked: the draw calls
// come from envs/web/raylib_canvas.h and do nothing here (nothing is drawn).
//
//   ./profile_env [--steps N] [--num-envs N] [--seed S]
#include <time.h>
#include <sys/resource.h>
#include "web/raylib_canvas.h"
#include ENV_HEADER
#include "vec_binding.h"

// The canvas calls env_render would make; a profile draws nothing.
void pl_draw_clear(uint32_t rgba) { (void)rgba; }
void pl_draw_circle(float x, float y, float r, uint32_t rgba) { (void)x; (void)y; (void)r; (void)rgba; }
void pl_draw_line(float x0, float y0, float x1, float y1, float thick, uint32_t rgba) {
    (void)x0; (void)y0; (void)x1; (void)y1; (void)thick; (void)rgba;
}
void pl_draw_rect(float x, float y, float w, float h, uint32_t rgba) { (void)x; (void)y; (void)w; (void)h; (void)rgba; }
void pl_draw_poly(const float* xy, int n, int filled, uint32_t rgba) { (void)xy; (void)n; (void)filled; (void)rgba; }
void pl_draw_text(const char* text, float x, float y, float size, uint32_t rgba) {
    (void)text; (void)x; (void)y; (void)size; (void)rgba;
}

static void* profile_alloc(size_t count, size_t size) {
    void* p = calloc(count, size);
    if (!p) { fprintf(stderr, "error: out of memory (%zu x %zu bytes)\n", count, size); exit(1); }
    return p;
}

int main(int argc, char** argv) {
    long steps = 20000;
    int num_envs = 64;
    uint64_t seed = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = atol(argv[++i]);
        else if (!strcmp(argv[i], "--num-envs") && i + 1 < argc) num_envs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = strtoull(argv[++i], NULL, 10);
        else { fprintf(stderr, "usage: %s [--steps N] [--num-envs N] [--seed S]\n", argv[0]); return 2; }
    }
    if (steps < 1 || num_envs < 1) { fprintf(stderr, "error: --steps and --num-envs must be >= 1\n"); return 2; }
    Config cfg;
    pl_defaults(&cfg);
    char err[512];
    Spaces sp;
    if (pl_checked_spaces(&cfg, &sp, err, sizeof err)) { fprintf(stderr, "error: %s\n", err); return 1; }
    size_t agents = (size_t)num_envs * sp.num_agents;
    OBS_TYPE* obs = profile_alloc(agents * sp.obs_size, sizeof(OBS_TYPE));
    size_t num_values = agents * pl_action_width(&sp);  // ints, or num_actions floats per agent
    ACTION_TYPE* actions = profile_alloc(num_values, sizeof(ACTION_TYPE));
    float* rewards = profile_alloc(agents, sizeof(float));
    uint8_t* terminals = profile_alloc(agents, 1);
    uint8_t* truncations = profile_alloc(agents, 1);
    VecEnv* vec = pl_vec_init(&cfg, num_envs, obs, actions, rewards, terminals, truncations, seed, 1,
                              err, sizeof err);
    if (!vec) { fprintf(stderr, "error: %s\n", err); return 1; }
    pl_vec_reset(vec, seed);
    uint64_t rng = pl_seed(seed ^ 0xAC710ULL);  // the random actions' own generator
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (long t = 0; t < steps; t++) {
        for (size_t k = 0; k < num_values; k++)
            actions[k] = PL_CONTINUOUS ? pl_rand_range(&rng, sp.action_low, sp.action_high)
                                       : pl_rand_int(&rng, sp.num_actions);
        pl_vec_step(vec);
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    double seconds = (end.tv_sec - start.tv_sec) + 1e-9 * (end.tv_nsec - start.tv_nsec);
    Log log;
    pl_vec_log(vec, &log);
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    double user = usage.ru_utime.tv_sec + 1e-6 * usage.ru_utime.tv_usec;
    double sys = usage.ru_stime.tv_sec + 1e-6 * usage.ru_stime.tv_usec;
    printf("{\"vector_steps\": %ld, \"num_envs\": %d, \"agent_steps\": %zu, \"seconds\": %.6f, "
           "\"user_s\": %.6f, \"sys_s\": %.6f, \"episodes\": %.0f}\n",
           steps, num_envs, agents * steps, seconds, user, sys, log.n);
    pl_vec_close(vec);
    return 0;
}
