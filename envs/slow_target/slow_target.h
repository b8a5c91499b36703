// slow_target.h: target (envs/target/target.h), the same game, written slowly.
//
// Lesson 6 profiles this env and fixes it. It plays exactly the game of
// target: with the same seed and the same actions it gives the same
// observations, rewards and flags (tests/test_slow_target.py checks that).
// It is slow because of four faults, each a marked section `[FAULT]`, the
// kind of code that creeps into real envs:
//   background    every reset rebuilds the arena's background picture, pixel
//                 by pixel, though it depends only on the settings
//   score         recounts each puffer's stars from the whole episode's reward
//                 history every tick: O(T^2) work per episode where O(T) does
//   observations  allocates and frees scratch memory for every puffer, every step
//   timed_step    reads a clock (clock(), a system call) twice every step
// Lesson 6's exercises are to rewrite those sections (keep their markers).
// Everything else is target.h, comments included, plus the background.
// It has no train.toml on purpose: the docs gallery trains every env that has
// one; lesson 6 trains it with target's settings.
//
// Marked [CONTRACT] = required by puffer_env.h so the generic binding can run
// this env. Marked [DESIGN] = this env's own choices: change them freely.
#include <time.h>
#include "puffer_env.h"

// [CONTRACT] Episode statistics: floats only, `n` (episodes counted) last.
typedef struct Log {
    float score;           // stars eaten per puffer in one episode
    float episode_return;  // summed reward per puffer (equal to score here)
    float episode_length;  // ticks
    float n;
} Log;

// [CONTRACT] Settings, filled by Python from make("target", key=value).
typedef struct Config {
    int num_puffers;    // agents per env
    int num_stars;
    int episode_ticks;  // episode length: time is counted in ticks
    int arena_size;     // arena is arena_size x arena_size units (= pixels)
    float speed;        // units a puffer moves per tick
    float eat_radius;   // a star within this distance is eaten
} Config;

// [DESIGN] Positions are in arena units, (0, 0) is the top-left corner.
typedef struct Puffer { float x, y; int heading; float last_reward; float eaten; } Puffer;
typedef struct Star { float x, y; } Star;

// [CONTRACT] The env struct starts with the shared fields.
typedef struct Env {
    ENV_CONTRACT_FIELDS
    Puffer* puffers;  // [DESIGN] everything below is this env's own state
    Star* stars;
    int tick;
    float* reward_history;  // [episode_ticks][num_puffers]: every reward of this episode
    uint8_t* background;    // the arena's background, one shade per BACKGROUND_TILE square
    double step_seconds;    // CPU time spent in env_step (see timed_step)
} Env;

// [DESIGN] The background is drawn in squares of this many units.
#define BACKGROUND_TILE 16

// [DESIGN] 8 compass headings: action k points at angle k * 45 degrees.
static const float HEADING_DX[8] = {1, 0.70710678f, 0, -0.70710678f, -1, -0.70710678f, 0, 0.70710678f};
static const float HEADING_DY[8] = {0, 0.70710678f, 1, 0.70710678f, 0, -0.70710678f, -1, -0.70710678f};

// [CONTRACT] Default settings.
static void env_defaults(Config* c) {
    *c = (Config){.num_puffers = 8, .num_stars = 4, .episode_ticks = 256,
                  .arena_size = 320, .speed = 4.0f, .eat_radius = 10.0f};
}

// [CONTRACT] Refuse settings that cannot work, with a message for the user.
static int env_check(const Config* c, char* err, int n) {
    if (c->num_puffers < 1) { snprintf(err, n, "num_puffers must be >= 1, got %d", c->num_puffers); return 1; }
    if (c->num_stars < 1) { snprintf(err, n, "num_stars must be >= 1, got %d", c->num_stars); return 1; }
    if (c->num_stars > 64 || c->num_puffers > 65) { snprintf(err, n, "at most 64 stars and 65 puffers (observations sort up to 64 things)"); return 1; }
    if (c->episode_ticks < 1) { snprintf(err, n, "episode_ticks must be >= 1, got %d", c->episode_ticks); return 1; }
    if (c->arena_size < 16 || c->arena_size > 2048) { snprintf(err, n, "arena_size must be in 16..2048, got %d", c->arena_size); return 1; }
    if (!(c->speed > 0)) { snprintf(err, n, "speed must be > 0, got %g", c->speed); return 1; }
    if (!(c->eat_radius > 0)) { snprintf(err, n, "eat_radius must be > 0, got %g", c->eat_radius); return 1; }
    return 0;
}

// [CONTRACT] Sizes. Each puffer sees: itself (x, y, heading cos, sin, last
// reward), then every star (dx, dy), nearest first, then every other puffer
// (dx, dy), nearest first.
static void env_spaces(const Config* c, Spaces* s) {
    s->num_agents = c->num_puffers;
    s->obs_size = 5 + 2 * c->num_stars + 2 * (c->num_puffers - 1);
    s->num_actions = 8;
    s->render_width = c->arena_size;
    s->render_height = c->arena_size;
    s->obs_low = -1;  // see write_observations
    s->obs_high = 1;
}

static void env_close(Env* env) {
    free(env->puffers);
    free(env->stars);
    free(env->reward_history);
    free(env->background);
}

// [DESIGN] A soft, wavy background, drawn under the puffers: the brightness of two waves, sampled
// BACKGROUND_SAMPLES x BACKGROUND_SAMPLES times per pixel and averaged over
// each tile. It depends only on arena_size.
#define BACKGROUND_SAMPLES 4
static void build_background(Env* env) {
    int size = env->cfg.arena_size, tiles = (size + BACKGROUND_TILE - 1) / BACKGROUND_TILE;
    const int k = BACKGROUND_SAMPLES, tile = BACKGROUND_TILE * BACKGROUND_SAMPLES;
    const float step = 1.0f / BACKGROUND_SAMPLES;  // arena units between samples
    for (int ty = 0; ty < tiles; ty++) {
        for (int tx = 0; tx < tiles; tx++) {
            float sum = 0;
            int samples = 0;
            for (int y = ty * tile; y < (ty + 1) * tile && y < k * size; y++) {
                for (int x = tx * tile; x < (tx + 1) * tile && x < k * size; x++) {
                    float u = x * step, v = y * step;
                    sum += 0.5f + 0.25f * sinf(0.05f * u + 0.8f * sinf(0.03f * v)) + 0.25f * cosf(0.04f * v);
                    samples++;
                }
            }
            env->background[ty * tiles + tx] = (uint8_t)(24.0f * sum / samples);
        }
    }
}

// [DESIGN] Observations are relative positions divided by the arena size,
// so every number lands in [-1, 1] whatever the arena's size.
// [DESIGN] Writes n (dx, dy) pairs nearest first: slot 0 is always the
// nearest thing, so one set of weights learns "head for slot 0" (lesson 3
// shows what happens without sorting).
// [DESIGN] Ranks 4 things at once with GCC/Clang vector types: a compare
// gives -1 in each lane where it holds, 0 elsewhere. Ranking is most of this
// env's cost, and plain C loops over 4 or 7 things do not vectorise.
typedef float f4 __attribute__((vector_size(16)));
typedef int i4 __attribute__((vector_size(16)));

// dx, dy: n offsets in vectors of 4 (lanes past n: any finite value, unused).
static float* write_nearest_first(float* o, const f4* dx, const f4* dy, int n) {
    f4 d2v[16];  // squared distances
    for (int g = 0; g < (n + 3) / 4; g++) d2v[g] = dx[g] * dx[g] + dy[g] * dy[g];
    const float* d2 = (const float*)d2v;
    for (int g = 0; g < (n + 3) / 4; g++) {
        // Each thing's rank = how many are nearer (ties: the lower index
        // first), for things 4g..4g+3 in the 4 lanes. Counting compares
        // instead of sorting with if/swap keeps the loop free of branches
        // the CPU cannot predict (positions are random).
        i4 index = {4 * g, 4 * g + 1, 4 * g + 2, 4 * g + 3}, rank = {0};
        for (int j = 0; j < n; j++) {
            f4 other = {d2[j], d2[j], d2[j], d2[j]};
            i4 jj = {j, j, j, j};
            rank -= (other < d2v[g]) | ((other == d2v[g]) & (jj < index));
        }
        for (int k = 0; k < 4 && 4 * g + k < n; k++) {
            o[2 * rank[k]] = dx[g][k];
            o[2 * rank[k] + 1] = dy[g][k];
        }
    }
    return o + 2 * n;
}

static void write_observations(Env* env) {
    // --8<-- [start:observations]
    float inv = 1.0f / env->cfg.arena_size;
    int np = env->cfg.num_puffers, ns = env->cfg.num_stars;
    for (int a = 0; a < np; a++) {
        // [FAULT] Scratch space for this puffer's offsets, allocated and freed
        // again for every puffer, every step.
        f4* dxv = calloc(16, sizeof(f4));
        f4* dyv = calloc(16, sizeof(f4));
        float *dx = (float*)dxv, *dy = (float*)dyv;
        Puffer* me = &env->puffers[a];
        float* o = env->observations + a * env->obs_size;
        *o++ = 2.0f * me->x * inv - 1.0f;
        *o++ = 2.0f * me->y * inv - 1.0f;
        *o++ = HEADING_DX[me->heading];
        *o++ = HEADING_DY[me->heading];
        *o++ = fminf(me->last_reward, 1.0f);  // 2 stars in one tick still reads 1
        for (int s = 0; s < ns; s++) {
            dx[s] = (env->stars[s].x - me->x) * inv;
            dy[s] = (env->stars[s].y - me->y) * inv;
        }
        o = write_nearest_first(o, dxv, dyv, ns);
        int k = 0;
        for (int b = 0; b < np; b++) {
            if (b == a) continue;
            dx[k] = (env->puffers[b].x - me->x) * inv;
            dy[k++] = (env->puffers[b].y - me->y) * inv;
        }
        write_nearest_first(o, dxv, dyv, np - 1);
        free(dxv);
        free(dyv);
    }
    // --8<-- [end:observations]
}

static void respawn_star(Env* env, Star* s) {
    s->x = pl_rand_range(&env->rng, 0, env->cfg.arena_size);
    s->y = pl_rand_range(&env->rng, 0, env->cfg.arena_size);
}

// --8<-- [start:background]
// [CONTRACT] Allocate per-env state.
static void env_init(Env* env) {
    env->puffers = calloc(env->cfg.num_puffers, sizeof(Puffer));
    env->stars = calloc(env->cfg.num_stars, sizeof(Star));
    env->reward_history = calloc(env->cfg.episode_ticks * env->cfg.num_puffers, sizeof(float));
    int tiles = (env->cfg.arena_size + BACKGROUND_TILE - 1) / BACKGROUND_TILE;
    env->background = calloc(tiles * tiles, 1);
}

// [CONTRACT] Start an episode: random puffers and stars, first observations.
static void env_reset(Env* env) {
    // [FAULT] The background is rebuilt every episode, though it depends
    // only on the settings (and training never draws it).
    build_background(env);
    env->tick = 0;
    for (int a = 0; a < env->cfg.num_puffers; a++) {
        Puffer* p = &env->puffers[a];
        p->x = pl_rand_range(&env->rng, 0, env->cfg.arena_size);
        p->y = pl_rand_range(&env->rng, 0, env->cfg.arena_size);
        p->heading = pl_rand_int(&env->rng, 8);
        p->last_reward = 0;
        p->eaten = 0;
    }
    for (int s = 0; s < env->cfg.num_stars; s++) respawn_star(env, &env->stars[s]);
    write_observations(env);
}

// Draws the background tiles (env_render calls this first).
static void draw_background(Env* env) {
    int tiles = (env->cfg.arena_size + BACKGROUND_TILE - 1) / BACKGROUND_TILE;
    for (int ty = 0; ty < tiles; ty++)
        for (int tx = 0; tx < tiles; tx++) {
            unsigned char v = env->background[ty * tiles + tx];
            DrawRectangle(tx * BACKGROUND_TILE, ty * BACKGROUND_TILE, BACKGROUND_TILE, BACKGROUND_TILE,
                          (Color){6, (unsigned char)(12 + v), (unsigned char)(12 + v), 255});
        }
}
// --8<-- [end:background]

// x limited to [0, hi]. (libm's fminf/fmaxf are function calls here: they
// must handle NaN, which positions never are.)
static inline float clamp(float x, float hi) { return x < 0 ? 0 : x > hi ? hi : x; }

// --8<-- [start:score]
// Adds this tick's reward to puffer a's stars eaten this episode.
static void count_stars(Env* env, int a, float reward) {
    // [FAULT] Recounted from the whole reward history every tick: the longer
    // the episode, the longer each tick takes.
    int np = env->cfg.num_puffers;
    env->reward_history[(env->tick - 1) * np + a] = reward;
    float eaten = 0;
    for (int t = 0; t < env->tick; t++) eaten += env->reward_history[t * np + a];
    env->puffers[a].eaten = eaten;
}
// --8<-- [end:score]

// The game's tick (target's env_step): moves, eats, logs.
static int step_game(Env* env) {
    float size = env->cfg.arena_size, r2 = env->cfg.eat_radius * env->cfg.eat_radius;
    env->tick++;
    for (int a = 0; a < env->cfg.num_puffers; a++) {
        Puffer* p = &env->puffers[a];
        p->heading = env->actions[a];
        // [DESIGN] walls stop a puffer (they do not wrap around)
        p->x = clamp(p->x + env->cfg.speed * HEADING_DX[p->heading], size);
        p->y = clamp(p->y + env->cfg.speed * HEADING_DY[p->heading], size);
        float reward = 0;
        for (int s = 0; s < env->cfg.num_stars; s++) {
            float dx = env->stars[s].x - p->x, dy = env->stars[s].y - p->y;
            if (dx * dx + dy * dy <= r2) {  // eaten: +1, and the star moves
                reward += 1;
                respawn_star(env, &env->stars[s]);
            }
        }
        p->last_reward = reward;
        count_stars(env, a, reward);
        env->rewards[a] = reward;
        env->terminals[a] = 0;
        env->truncations[a] = 0;
    }
    if (env->tick < env->cfg.episode_ticks) {
        write_observations(env);
        return 0;
    }
    // Time is up: the episode is cut off (a truncation, not a failure).
    float total = 0;
    for (int a = 0; a < env->cfg.num_puffers; a++) {
        total += env->puffers[a].eaten;
        env->truncations[a] = 1;
    }
    float per_puffer = total / env->cfg.num_puffers;
    env->log.score += per_puffer;
    env->log.episode_return += per_puffer;
    env->log.episode_length += env->tick;
    env->log.n += 1;
    return 1;  // the binding calls env_reset, which writes fresh observations
}

// [CONTRACT] One tick for every puffer. Returns 1 when the episode is over.
static int env_step(Env* env) {
    // --8<-- [start:timed_step]
    // [FAULT] Times every step with the process clock (kept from debugging).
    clock_t started = clock();
    int done = step_game(env);
    env->step_seconds += (double)(clock() - started) / CLOCKS_PER_SEC;
    return done;
    // --8<-- [end:timed_step]
}

// [CONTRACT] The scripted baseline: head for the nearest star.
static void env_scripted(Env* env, int* actions) {
    for (int a = 0; a < env->cfg.num_puffers; a++) {
        Puffer* p = &env->puffers[a];
        float best_d2 = 1e30f, best_dx = 0, best_dy = 0;
        for (int s = 0; s < env->cfg.num_stars; s++) {
            float dx = env->stars[s].x - p->x, dy = env->stars[s].y - p->y;
            float d2 = dx * dx + dy * dy;
            if (d2 < best_d2) { best_d2 = d2; best_dx = dx; best_dy = dy; }
        }
        int best = 0;  // the heading that points most nearly at that star
        float best_dot = -1e30f;
        for (int h = 0; h < 8; h++) {
            float dot = HEADING_DX[h] * best_dx + HEADING_DY[h] * best_dy;
            if (dot > best_dot) { best_dot = dot; best = h; }
        }
        actions[a] = best;
    }
}

// [CONTRACT] Draw one frame with raylib (the binding handles the window).
static void env_render(Env* env) {
    ClearBackground((Color){6, 24, 24, 255});
    draw_background(env);
    for (int s = 0; s < env->cfg.num_stars; s++)
        DrawCircleV((Vector2){env->stars[s].x, env->stars[s].y}, env->cfg.eat_radius, GOLD);
    for (int a = 0; a < env->cfg.num_puffers; a++) {
        Puffer* p = &env->puffers[a];
        Vector2 at = {p->x, p->y};
        DrawCircleV(at, 7, (Color){0, 187, 187, 255});
        Vector2 nose = {p->x + 10 * HEADING_DX[p->heading], p->y + 10 * HEADING_DY[p->heading]};
        DrawLineEx(at, nose, 3, RAYWHITE);
    }
    DrawText(TextFormat("tick %d", env->tick), 6, 6, 10, RAYWHITE);
}
