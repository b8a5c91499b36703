// target.h: "puffers eating stars", the tutorial env of lesson 1.
//
// Each env holds a few puffers and stars in a square arena. A puffer picks
// one of 8 compass headings each tick and swims that way; touching a star
// eats it (+1 reward) and the star reappears somewhere else. An episode lasts
// a fixed number of ticks. The score is stars eaten per puffer per episode.
//
// Sections marked `--8<-- [start:NAME]` are embedded by the docs and lesson 1;
// own_features, eat and episode_log are lesson 1's exercises (keep their markers).
//
// Marked [CONTRACT] = required by puffer_env.h so the generic binding can run
// this env. Marked [DESIGN] = this env's own choices: change them freely.
#include "puffer_env.h"

// --8<-- [start:structs]
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
} Env;
// --8<-- [end:structs]

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

// --8<-- [start:spaces]
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
// --8<-- [end:spaces]

// [CONTRACT] Allocate per-env state.
static void env_init(Env* env) {
    env->puffers = calloc(env->cfg.num_puffers, sizeof(Puffer));
    env->stars = calloc(env->cfg.num_stars, sizeof(Star));
}

static void env_close(Env* env) {
    free(env->puffers);
    free(env->stars);
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
    float inv = 1.0f / env->cfg.arena_size;
    int np = env->cfg.num_puffers, ns = env->cfg.num_stars;
    f4 dxv[16] = {0}, dyv[16] = {0};
    float *dx = (float*)dxv, *dy = (float*)dyv;
    for (int a = 0; a < np; a++) {
        Puffer* me = &env->puffers[a];
        float* o = env->observations + a * env->obs_size;
        // --8<-- [start:own_features]
        *o++ = 2.0f * me->x * inv - 1.0f;
        *o++ = 2.0f * me->y * inv - 1.0f;
        *o++ = HEADING_DX[me->heading];
        *o++ = HEADING_DY[me->heading];
        *o++ = fminf(me->last_reward, 1.0f);  // 2 stars in one tick still reads 1
        // --8<-- [end:own_features]
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
    }
}

static void respawn_star(Env* env, Star* s) {
    s->x = pl_rand_range(&env->rng, 0, env->cfg.arena_size);
    s->y = pl_rand_range(&env->rng, 0, env->cfg.arena_size);
}

// [CONTRACT] Start an episode: random puffers and stars, first observations.
static void env_reset(Env* env) {
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

// x limited to [0, hi]. (libm's fminf/fmaxf are function calls here: they
// must handle NaN, which positions never are.)
static inline float clamp(float x, float hi) { return x < 0 ? 0 : x > hi ? hi : x; }

// --8<-- [start:step]
// [CONTRACT] One tick for every puffer. Returns 1 when the episode is over.
static int env_step(Env* env) {
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
            // --8<-- [start:eat]
            if (dx * dx + dy * dy <= r2) {  // eaten: +1, and the star moves
                reward += 1;
                respawn_star(env, &env->stars[s]);
            }
            // --8<-- [end:eat]
        }
        p->last_reward = reward;
        p->eaten += reward;
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
    // --8<-- [start:episode_log]
    float per_puffer = total / env->cfg.num_puffers;
    env->log.score += per_puffer;
    env->log.episode_return += per_puffer;
    env->log.episode_length += env->tick;
    env->log.n += 1;
    // --8<-- [end:episode_log]
    return 1;  // the binding calls env_reset, which writes fresh observations
}
// --8<-- [end:step]

// --8<-- [start:scripted]
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
// --8<-- [end:scripted]

// [CONTRACT] Draw one frame with raylib (the binding handles the window).
static void env_render(Env* env) {
    ClearBackground((Color){6, 24, 24, 255});
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
