// asteroids.h: a ship collecting gems in a drifting asteroid field, the env of
// lessons 2 (observation normalization) and 3 (sorting vs entity encoders).
//
// The ship flies in a wrap-around square arena (leave on the right, come back
// on the left) among num_gems gems and num_rocks rocks that drift in straight
// lines. Touching a gem: +1, and it reappears elsewhere. Touching a rock: -1,
// the rock shatters (reappears elsewhere) and the ship is stunned for
// stun_ticks ticks. Rocks come in many sizes, so how close is too close
// depends on each rock's size. Good play weighs several objects at once: the
// nearest gem, and the rocks between the ship and it.
//
// Two settings change only what the ship observes, never the game:
//   obs_mode     = "raw":        absolute positions in pixels, velocities in
//                                pixels per second, sizes left out;
//                  "normalized": positions relative to the ship (the short way
//                                round the wrapped arena) / half the arena
//                                size (the farthest anything can be), the
//                                distance, velocities / max speed, sizes.
//                  Lesson 2 also changes one thing at a time, between them:
//                  "relative":   raw, but positions relative to the ship and
//                                the distance (still pixels, pixels/s, ticks);
//                  "scaled":     raw, but every number scaled to [-1, 1];
//                  "relative_scaled": both; "normalized" adds the size.
//   entity_order = "unsorted":   objects in slot (spawn) order;
//                  "sorted":     nearest object first.
//
// Marked [CONTRACT] = required by puffer_env.h. Marked [DESIGN] = this env's
// own choices: change them freely.
#include "puffer_env.h"

// [CONTRACT] Episode statistics: floats only, `n` (episodes counted) last.
typedef struct Log {
    float score;           // gems collected minus rocks hit, per episode
    float gems;            // gems collected
    float hits;            // rocks hit
    float episode_return;  // summed reward (equal to score here)
    float episode_length;  // ticks
    float n;
} Log;

// [CONTRACT] Named choices for int settings: make(..., obs_mode="raw").
enum { OBS_MODE_RAW = 0, OBS_MODE_NORMALIZED = 1, OBS_MODE_RELATIVE = 2, OBS_MODE_SCALED = 3,
       OBS_MODE_RELATIVE_SCALED = 4 };
enum { ENTITY_ORDER_UNSORTED = 0, ENTITY_ORDER_SORTED = 1 };

// [CONTRACT] Settings, filled by Python from make("asteroids", key=value).
typedef struct Config {
    int obs_mode;         // OBS_MODE_RAW, OBS_MODE_NORMALIZED (or a step between them)
    int entity_order;     // ENTITY_ORDER_UNSORTED or ENTITY_ORDER_SORTED
    int num_gems;
    int num_rocks;
    int episode_ticks;    // episode length in ticks
    int stun_ticks;       // ticks the ship cannot move after hitting a rock
    int arena_size;       // pixels per side
    float ship_speed;     // pixels per tick
    float max_speed;      // fastest object, in pixels per second of game time
} Config;

// [DESIGN] Game time advances a fixed 1/30 s per tick. Velocities are stored
// in pixels per second (as game code often does) and multiplied by DT. DT is
// a constant: the env never asks a clock how much time passed.
#define DT (1.0f / 30.0f)
#define SHIP_RADIUS 6.0f
#define GEM_MIN_R 6.0f
#define GEM_MAX_R 12.0f
#define ROCK_MIN_R 8.0f
#define ROCK_MAX_R 24.0f  // sizes are observed as radius / ROCK_MAX_R
#define KIND_GEM 1
#define KIND_ROCK (-1)
#define SELF_FEATURES 2   // both modes observe 2 numbers about the ship...
#define RAW_SELF_EXTRA 2  // ...and raw mode adds its absolute x, y
#define RAW_FEATURES 5    // per object: x, y, vx, vy, kind
#define NORM_FEATURES 7   // per object: dx, dy, distance, vx, vy, size, kind
#define REL_FEATURES 6    // per object: dx, dy, distance, vx, vy, kind (no size)

// [DESIGN] Positions in pixels, (0, 0) = top-left; velocities in pixels/s.
typedef struct Object { float x, y, vx, vy, radius; int kind; } Object;
typedef struct Ship { float x, y; int heading; int stun; float gems, hits; } Ship;

// [CONTRACT] The env struct starts with the shared fields.
typedef struct Env {
    ENV_CONTRACT_FIELDS
    Ship ship;         // [DESIGN] everything below is this env's own state
    Object* objects;   // [num_gems + num_rocks], in slot order
    int* order;        // the order objects are observed in
    float* dist2;      // squared distance of each object to the ship
    int tick;
} Env;

// [DESIGN] Action 0 = stay, 1..8 = fly toward compass heading (k-1) * 45 deg.
static const float MOVE_DX[9] = {0, 1, 0.70710678f, 0, -0.70710678f, -1, -0.70710678f, 0, 0.70710678f};
static const float MOVE_DY[9] = {0, 0, 0.70710678f, 1, 0.70710678f, 0, -0.70710678f, -1, -0.70710678f};

static int num_objects(const Config* c) { return c->num_gems + c->num_rocks; }

// [CONTRACT] Default settings: the "good" observation design.
static void env_defaults(Config* c) {
    *c = (Config){.obs_mode = OBS_MODE_NORMALIZED, .entity_order = ENTITY_ORDER_SORTED,
                  .num_gems = 10, .num_rocks = 6, .episode_ticks = 256, .stun_ticks = 15,
                  .arena_size = 256, .ship_speed = 4.0f, .max_speed = 60.0f};
}

// [CONTRACT] Refuse settings that cannot work, with a message for the user.
static int env_check(const Config* c, char* err, int n) {
    if (c->obs_mode < OBS_MODE_RAW || c->obs_mode > OBS_MODE_RELATIVE_SCALED) { snprintf(err, n, "obs_mode must be 'raw', 'relative', 'scaled', 'relative_scaled' or 'normalized', got %d", c->obs_mode); return 1; }
    if (c->entity_order != ENTITY_ORDER_UNSORTED && c->entity_order != ENTITY_ORDER_SORTED) { snprintf(err, n, "entity_order must be 'unsorted' or 'sorted', got %d", c->entity_order); return 1; }
    if (c->num_gems < 1 || c->num_rocks < 0 || num_objects(c) > 64) { snprintf(err, n, "need num_gems >= 1, num_rocks >= 0 and at most 64 objects, got %d gems, %d rocks", c->num_gems, c->num_rocks); return 1; }
    if (c->episode_ticks < 1) { snprintf(err, n, "episode_ticks must be >= 1, got %d", c->episode_ticks); return 1; }
    if (c->stun_ticks < 0) { snprintf(err, n, "stun_ticks must be >= 0, got %d", c->stun_ticks); return 1; }
    if (c->arena_size < 128 || c->arena_size > 2048) { snprintf(err, n, "arena_size must be in 128..2048, got %d", c->arena_size); return 1; }
    if (!(c->ship_speed > 0)) { snprintf(err, n, "ship_speed must be > 0, got %g", c->ship_speed); return 1; }
    if (!(c->max_speed > 0)) { snprintf(err, n, "max_speed must be > 0, got %g", c->max_speed); return 1; }
    return 0;
}

// [CONTRACT] Sizes. The layout is "self features, then N objects of F
// features", declared with num_entities / entity_size so an entity encoder
// can split it. Raw mode has 2 more self features (the ship's absolute x, y:
// without them absolute object positions mean nothing) and 2 fewer object
// features (no size, no distance).
static int is_relative(const Config* c) { return c->obs_mode != OBS_MODE_RAW && c->obs_mode != OBS_MODE_SCALED; }
static int is_scaled(const Config* c) { return c->obs_mode != OBS_MODE_RAW && c->obs_mode != OBS_MODE_RELATIVE; }

static void env_spaces(const Config* c, Spaces* s) {
    int raw = c->obs_mode == OBS_MODE_RAW;
    int absolute = !is_relative(c);  // raw and scaled observe the ship's own x, y
    s->num_agents = 1;
    s->num_entities = num_objects(c);
    s->entity_size = absolute ? RAW_FEATURES : c->obs_mode == OBS_MODE_NORMALIZED ? NORM_FEATURES : REL_FEATURES;
    s->obs_size = SELF_FEATURES + (absolute ? RAW_SELF_EXTRA : 0) + s->num_entities * s->entity_size;
    s->num_actions = 9;
    s->render_width = c->arena_size;
    s->render_height = c->arena_size;
    // True bounds (see write_observations): raw spans -max_speed (a
    // velocity) to the largest of arena_size and the tick counts; normalized
    // spans -1 to sqrt(2) (the distance to the far corner of the wrap).
    float biggest = fmaxf(c->arena_size, fmaxf(c->episode_ticks, c->stun_ticks));
    s->obs_low = raw ? -c->max_speed : -1.0f;
    s->obs_high = raw ? fmaxf(biggest, c->max_speed) : 1.4143f;
    if (c->obs_mode == OBS_MODE_RELATIVE) {  // offsets to +-size/2, distances to size/sqrt(2)
        s->obs_low = -fmaxf(0.5f * c->arena_size, c->max_speed);
        s->obs_high = fmaxf(0.7072f * c->arena_size, fmaxf(biggest, c->max_speed));
    }
}

// [CONTRACT] Allocate per-env state.
static void env_init(Env* env) {
    int n = num_objects(&env->cfg);
    env->objects = calloc(n, sizeof(Object));
    env->order = calloc(n, sizeof(int));
    env->dist2 = calloc(n, sizeof(float));
}

static void env_close(Env* env) {
    free(env->objects);
    free(env->order);
    free(env->dist2);
}

// [DESIGN] The arena wraps, so the offset from a to b is the short way round:
// a value in [-size/2, size/2].
static float wrap_delta(float d, float size) {
    if (d > 0.5f * size) d -= size;
    else if (d < -0.5f * size) d += size;
    return d;
}

static float wrap_pos(float x, float size) {
    if (x < 0) x += size;
    else if (x >= size) x -= size;
    return x;
}

// [DESIGN] Observations. Both modes hold the same game; only the encoding of
// it differs, which is exactly what lesson 2 compares. Raw is what the game
// stores. Normalized is what a policy can use: offsets from the ship (a
// linear layer cannot subtract two absolute positions across the wrap), in
// [-1, 1], plus the distance as one number, so "how near" is a single
// feature rather than something each layer must compute from dx and dy.
static void write_observations(Env* env) {
    int n = num_objects(&env->cfg);
    float size = env->cfg.arena_size;
    Ship* s = &env->ship;
    // Distances first (used by sorting, and by the scripted policy).
    for (int i = 0; i < n; i++) {
        float dx = wrap_delta(env->objects[i].x - s->x, size);
        float dy = wrap_delta(env->objects[i].y - s->y, size);
        env->dist2[i] = dx * dx + dy * dy;
        env->order[i] = i;
    }
    // [DESIGN] Sorting: insertion sort, nearest first. Fast for ~16 objects,
    // and stable, so equal distances keep slot order (deterministic).
    if (env->cfg.entity_order == ENTITY_ORDER_SORTED) {
        for (int i = 1; i < n; i++) {
            int k = env->order[i], j = i - 1;
            while (j >= 0 && env->dist2[env->order[j]] > env->dist2[k]) { env->order[j + 1] = env->order[j]; j--; }
            env->order[j + 1] = k;
        }
    }
    float* o = env->observations;
    if (env->cfg.obs_mode == OBS_MODE_RAW) {
        // Raw: what the game stores, as is. Magnitudes of 0..arena_size
        // pixels and tens of pixels per second; no object sizes.
        *o++ = s->x;
        *o++ = s->y;
        *o++ = (float)s->stun;                              // ticks left
        *o++ = (float)(env->cfg.episode_ticks - env->tick); // ticks left
        for (int k = 0; k < n; k++) {
            Object* ob = &env->objects[env->order[k]];
            *o++ = ob->x; *o++ = ob->y; *o++ = ob->vx; *o++ = ob->vy; *o++ = (float)ob->kind;
        }
        return;
    }
    if (env->cfg.obs_mode != OBS_MODE_NORMALIZED) {
        // The steps between raw and normalized, one change at a time
        // (lesson 2): relative positions and the distance, and/or scaling.
        int scaled = is_scaled(&env->cfg);
        float inv = scaled ? 2.0f / size : 1.0f, inv_v = scaled ? 1.0f / env->cfg.max_speed : 1.0f;
        if (!is_relative(&env->cfg)) {   // scaled: absolute positions in [-1, 1]
            *o++ = s->x * inv - 1.0f;
            *o++ = s->y * inv - 1.0f;
        }
        *o++ = !scaled ? (float)s->stun : env->cfg.stun_ticks > 0 ? (float)s->stun / env->cfg.stun_ticks : 0.0f;
        *o++ = (float)(env->cfg.episode_ticks - env->tick) / (scaled ? env->cfg.episode_ticks : 1);
        for (int k = 0; k < n; k++) {
            Object* ob = &env->objects[env->order[k]];
            if (is_relative(&env->cfg)) {
                *o++ = wrap_delta(ob->x - s->x, size) * inv;
                *o++ = wrap_delta(ob->y - s->y, size) * inv;
                *o++ = sqrtf(env->dist2[env->order[k]]) * inv;
            } else {
                *o++ = ob->x * inv - 1.0f;
                *o++ = ob->y * inv - 1.0f;
            }
            *o++ = ob->vx * inv_v;
            *o++ = ob->vy * inv_v;
            *o++ = (float)ob->kind;
        }
        return;
    }
    // Normalized: relative to the ship, every number roughly in [-1, 1].
    float inv = 2.0f / size, inv_v = 1.0f / env->cfg.max_speed;
    *o++ = env->cfg.stun_ticks > 0 ? (float)s->stun / env->cfg.stun_ticks : 0.0f;
    *o++ = (float)(env->cfg.episode_ticks - env->tick) / env->cfg.episode_ticks;
    for (int k = 0; k < n; k++) {
        Object* ob = &env->objects[env->order[k]];
        // --8<-- [start:object_row]
        *o++ = wrap_delta(ob->x - s->x, size) * inv;  // in [-1, 1]
        *o++ = wrap_delta(ob->y - s->y, size) * inv;
        *o++ = sqrtf(env->dist2[env->order[k]]) * inv; // in [0, 1.42]: "how near" in one number
        *o++ = ob->vx * inv_v;                        // in [-1, 1]
        *o++ = ob->vy * inv_v;
        *o++ = ob->radius / ROCK_MAX_R;               // in (0, 1]
        *o++ = (float)ob->kind;                       // +1 gem, -1 rock
        // --8<-- [end:object_row]
    }
}

// [DESIGN] (Re)spawn an object at a random place at least 48 pixels (plus its
// radius) from the ship, moving in a random direction.
static void spawn_object(Env* env, Object* ob) {
    float size = env->cfg.arena_size;
    float lo = ob->kind == KIND_GEM ? GEM_MIN_R : ROCK_MIN_R;
    float hi = ob->kind == KIND_GEM ? GEM_MAX_R : ROCK_MAX_R;
    ob->radius = pl_rand_range(&env->rng, lo, hi);
    for (int tries = 0; tries < 16; tries++) {  // bounded: never an endless loop
        ob->x = pl_rand_range(&env->rng, 0, size);
        ob->y = pl_rand_range(&env->rng, 0, size);
        float dx = wrap_delta(ob->x - env->ship.x, size), dy = wrap_delta(ob->y - env->ship.y, size);
        float keep = 48.0f + ob->radius;
        if (dx * dx + dy * dy > keep * keep) break;
    }
    float angle = pl_rand_range(&env->rng, 0, 6.2831853f);
    float speed = env->cfg.max_speed * pl_rand_range(&env->rng, 0.25f, 1.0f);
    ob->vx = speed * cosf(angle);
    ob->vy = speed * sinf(angle);
}

// [CONTRACT] Start an episode: the ship in the middle, objects around it.
// Kinds are dealt to slots in random order, so a slot says nothing about
// what it holds: only the kind feature does.
static void env_reset(Env* env) {
    int n = num_objects(&env->cfg);
    env->tick = 0;
    env->ship = (Ship){.x = 0.5f * env->cfg.arena_size, .y = 0.5f * env->cfg.arena_size};
    for (int i = 0; i < n; i++) env->objects[i].kind = i < env->cfg.num_gems ? KIND_GEM : KIND_ROCK;
    for (int i = n - 1; i > 0; i--) {  // Fisher-Yates shuffle of the kinds
        int j = pl_rand_int(&env->rng, i + 1), k = env->objects[i].kind;
        env->objects[i].kind = env->objects[j].kind;
        env->objects[j].kind = k;
    }
    for (int i = 0; i < n; i++) spawn_object(env, &env->objects[i]);
    write_observations(env);
}

// [CONTRACT] One tick. Returns 1 when the episode is over.
static int env_step(Env* env) {
    int n = num_objects(&env->cfg);
    float size = env->cfg.arena_size;
    Ship* s = &env->ship;
    env->tick++;
    // The ship moves unless stunned. The stun is a timer counted in ticks.
    if (s->stun > 0) {
        s->stun--;
    } else if (env->actions[0] > 0) {
        s->heading = env->actions[0];
        s->x = wrap_pos(s->x + env->cfg.ship_speed * MOVE_DX[s->heading], size);
        s->y = wrap_pos(s->y + env->cfg.ship_speed * MOVE_DY[s->heading], size);
    }
    float reward = 0;
    for (int i = 0; i < n; i++) {
        Object* ob = &env->objects[i];
        ob->x = wrap_pos(ob->x + ob->vx * DT, size);
        ob->y = wrap_pos(ob->y + ob->vy * DT, size);
        float dx = wrap_delta(ob->x - s->x, size), dy = wrap_delta(ob->y - s->y, size);
        float touch = SHIP_RADIUS + ob->radius;
        if (dx * dx + dy * dy > touch * touch || s->stun > 0) continue;  // stunned: untouchable
        if (ob->kind == KIND_GEM) {
            reward += 1; s->gems += 1;
        } else {
            reward -= 1; s->hits += 1;
            s->stun = env->cfg.stun_ticks;
        }
        spawn_object(env, ob);
    }
    env->rewards[0] = reward;
    env->terminals[0] = 0;
    env->truncations[0] = 0;
    if (env->tick < env->cfg.episode_ticks) {
        write_observations(env);
        return 0;
    }
    // Time is up: the episode is cut off (a truncation, not a failure).
    env->truncations[0] = 1;
    env->log.score += s->gems - s->hits;
    env->log.gems += s->gems;
    env->log.hits += s->hits;
    env->log.episode_return += s->gems - s->hits;
    env->log.episode_length += env->tick;
    env->log.n += 1;
    return 1;  // the binding calls env_reset, which writes fresh observations
}

// [CONTRACT] The scripted baseline: fly at the nearest gem, pushed away from
// rocks that are close for their size. Decent, but it ignores where things
// are moving and never plans a route, so a trained policy can beat it.
static void env_scripted(Env* env, int* actions) {
    int n = num_objects(&env->cfg);
    float size = env->cfg.arena_size, best_d2 = 1e30f, fx = 0, fy = 0;
    for (int i = 0; i < n; i++) {  // pull: unit vector toward the nearest gem
        Object* ob = &env->objects[i];
        if (ob->kind != KIND_GEM || env->dist2[i] >= best_d2) continue;
        float d = sqrtf(env->dist2[i]) + 1e-6f;
        best_d2 = env->dist2[i];
        fx = wrap_delta(ob->x - env->ship.x, size) / d;
        fy = wrap_delta(ob->y - env->ship.y, size) / d;
    }
    for (int i = 0; i < n; i++) {  // push: away from rocks within a danger zone
        Object* ob = &env->objects[i];
        if (ob->kind != KIND_ROCK) continue;
        float d = sqrtf(env->dist2[i]) + 1e-6f, gap = d - SHIP_RADIUS - ob->radius;
        if (gap > 20.0f) continue;
        float push = 2.0f * (20.0f - gap) / 20.0f;
        fx -= push * wrap_delta(ob->x - env->ship.x, size) / d;
        fy -= push * wrap_delta(ob->y - env->ship.y, size) / d;
    }
    int best = 0;
    float best_dot = 0.0f;  // stay put unless some heading helps
    for (int a = 1; a < 9; a++) {
        float dot = MOVE_DX[a] * fx + MOVE_DY[a] * fy;
        if (dot > best_dot) { best_dot = dot; best = a; }
    }
    actions[0] = best;
}

// [CONTRACT] Draw one frame with raylib (the binding handles the window).
static void env_render(Env* env) {
    ClearBackground((Color){8, 10, 28, 255});
    for (int i = 0; i < num_objects(&env->cfg); i++) {
        Object* ob = &env->objects[i];
        Vector2 at = {ob->x, ob->y};
        if (ob->kind == KIND_GEM) DrawCircleV(at, ob->radius, GOLD);
        else { DrawCircleV(at, ob->radius, (Color){110, 100, 95, 255}); DrawPolyLines(at, 7, ob->radius, 10 * i, LIGHTGRAY); }
    }
    Ship* s = &env->ship;
    float hx = s->heading ? MOVE_DX[s->heading] : 0, hy = s->heading ? MOVE_DY[s->heading] : -1;
    Vector2 nose = {s->x + 9 * hx, s->y + 9 * hy};
    Vector2 left = {s->x - 6 * hx + 6 * hy, s->y - 6 * hy - 6 * hx};
    Vector2 right = {s->x - 6 * hx - 6 * hy, s->y - 6 * hy + 6 * hx};
    Color hull = s->stun > 0 && (s->stun / 3) % 2 ? RED : SKYBLUE;  // blinks while stunned
    DrawTriangle(nose, left, right, hull);
    DrawTriangleLines(nose, right, left, hull);
    DrawText(TextFormat("gems %d  hits %d  tick %d", (int)s->gems, (int)s->hits, env->tick), 6, 6, 10, RAYWHITE);
}
