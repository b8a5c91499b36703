// breakout.h: a fast breakout, the env of lesson 4 (frame skip).
//
// A paddle at the bottom keeps a ball in play; the ball breaks bricks (+1
// each). Missing the ball costs a life; the episode ends with the last life,
// or after max_frames frames of game time. When every brick is gone a fresh
// wall appears, so a good player keeps scoring.
//
// The native frame rate is high: per frame the ball moves 2 pixels and the
// paddle 3. Deciding every frame is needlessly fine-grained, and it makes the
// agent's horizon long: a ball takes ~100 frames to travel from the paddle to
// the bricks, so the reward for a good return arrives ~100 decisions later.
// Two settings make decisions coarser:
//   frame_skip = k: one step plays k exact frames with the same action and
//                   sums their rewards (the agent decides every k-th frame);
//   speed = s:      a coarser game: one tick moves the ball and the paddle s
//                   times farther, in ONE move. Collisions are swept (the
//                   ball's path is tested against walls, bricks and paddle),
//                   so a fast ball cannot tunnel through a brick or the
//                   paddle; what is lost is the exact in-between physics
//                   (e.g. the paddle is where it is at the end of the tick).
//                   A tick of speed s costs about one frame of work, not s.
// Both shorten the horizon in decisions. Rendering draws any moment inside
// a step (env->render_t) by interpolating the ball's path, bounces included,
// so playback stays smooth.
//
// Marked [CONTRACT] = required by puffer_env.h. Marked [DESIGN] = this env's
// own choices: change them freely.
#include "puffer_env.h"

// [CONTRACT] Episode statistics: floats only, `n` (episodes counted) last.
typedef struct Log {
    float score;           // bricks broken per episode
    float episode_return;  // summed reward (equal to score here)
    float episode_length;  // steps (decisions)
    float episode_frames;  // game time in speed-1 frames: steps * frame_skip * speed
    float n;
} Log;

// [CONTRACT] Settings, filled by Python from make("breakout", key=value).
typedef struct Config {
    int frame_skip;  // frames per step, same action, rewards summed
    int speed;       // each tick moves things `speed` times farther, in one swept move
    int lives;
    int max_frames;  // episode cut off after this much game time (speed-1 frames)
} Config;

// [DESIGN] The arena, in pixels (= render size).
#define WIDTH 192
#define HEIGHT 240
#define BRICK_ROWS 6
#define BRICK_COLS 8
#define BRICK_W 24
#define BRICK_H 8
#define BRICK_TOP 40
#define PADDLE_Y 224      // top edge of the paddle
#define PADDLE_HALF 16
#define PADDLE_SPEED 3.0f // pixels per frame at speed 1
#define BALL_R 3.0f
#define BALL_SPEED 2.0f   // pixels per frame at speed 1
#define MAX_BOUNCE 1.0472f // 60 degrees: the steepest return off the paddle's edge
#define NUM_BRICKS (BRICK_ROWS * BRICK_COLS)
#define MAX_BOUNCES 8     // collisions handled in one tick's move
#define PATH_MAX(k) ((k) * (MAX_BOUNCES + 1) + 1)

typedef struct Env {
    ENV_CONTRACT_FIELDS
    float ball_x, ball_y, ball_vx, ball_vy;  // [DESIGN] velocity per frame at speed 1
    float paddle_x;                          // paddle centre
    uint8_t bricks[NUM_BRICKS];              // 1 = standing
    float broken_at[NUM_BRICKS];             // time in the last step (ticks) it broke, or -1
    int lives, frames, steps;
    float score;
    // The path of the last step: render draws moment t of the step from it.
    // One point per tick and one per bounce, each with its time in the step.
    float* path;  // [path_len * 4]: time (ticks since step start), ball x, ball y, paddle x
    int path_len;
} Env;

// [CONTRACT] Default settings: decide every 4th frame.
static void env_defaults(Config* c) {
    *c = (Config){.frame_skip = 4, .speed = 1, .lives = 3, .max_frames = 2048};
}

// [CONTRACT] Refuse settings that cannot work, with a message for the user.
static int env_check(const Config* c, char* err, int n) {
    if (c->frame_skip < 1 || c->frame_skip > 16) { snprintf(err, n, "frame_skip must be in 1..16, got %d", c->frame_skip); return 1; }
    if (c->speed < 1 || c->speed > 16) { snprintf(err, n, "speed must be in 1..16, got %d", c->speed); return 1; }
    if (c->lives < 1) { snprintf(err, n, "lives must be >= 1, got %d", c->lives); return 1; }
    if (c->max_frames < 1) { snprintf(err, n, "max_frames must be >= 1, got %d", c->max_frames); return 1; }
    return 0;
}

// [CONTRACT] Sizes. Observation: paddle x, ball x, y, vx, vy, lives left,
// then one 0/1 per brick. Actions: 0 = stay, 1 = left, 2 = right.
static void env_spaces(const Config* c, Spaces* s) {
    s->num_agents = 1;
    s->obs_size = 6 + NUM_BRICKS;
    s->num_actions = 3;
    s->render_width = WIDTH;
    s->render_height = HEIGHT;
    s->obs_low = -1;  // see write_observations
    s->obs_high = 1;
}

static void env_init(Env* env) {
    env->path = calloc(PATH_MAX(env->cfg.frame_skip) * 4, sizeof(float));
}

static void env_close(Env* env) { free(env->path); }

// [DESIGN] Every number in [-1, 1]. Velocities are divided by the speed-1
// ball speed, so they read the same whatever frame_skip and speed are.
static void write_observations(Env* env) {
    float* o = env->observations;
    *o++ = 2.0f * env->paddle_x / WIDTH - 1.0f;
    *o++ = 2.0f * env->ball_x / WIDTH - 1.0f;
    *o++ = 2.0f * env->ball_y / HEIGHT - 1.0f;
    *o++ = env->ball_vx / BALL_SPEED;
    *o++ = env->ball_vy / BALL_SPEED;
    *o++ = (float)env->lives / env->cfg.lives;
    for (int b = 0; b < NUM_BRICKS; b++) *o++ = env->bricks[b];
}

// [DESIGN] A new ball leaves from mid-height, upward at up to 45 degrees.
static void launch_ball(Env* env) {
    float angle = pl_rand_range(&env->rng, -0.785f, 0.785f);
    env->ball_x = pl_rand_range(&env->rng, 48, WIDTH - 48);
    env->ball_y = 150;
    env->ball_vx = BALL_SPEED * sinf(angle);
    env->ball_vy = -BALL_SPEED * cosf(angle);
}

// Records where things are at time t of the step, for render.
static void path_point(Env* env, float t) {
    float* q = env->path + 4 * env->path_len++;
    q[0] = t; q[1] = env->ball_x; q[2] = env->ball_y; q[3] = env->paddle_x;
}

// [CONTRACT] Start an episode.
static void env_reset(Env* env) {
    memset(env->bricks, 1, sizeof(env->bricks));
    for (int b = 0; b < NUM_BRICKS; b++) env->broken_at[b] = -1;
    env->paddle_x = WIDTH / 2;
    env->lives = env->cfg.lives;
    env->frames = env->steps = 0;
    env->score = 0;
    launch_ball(env);
    env->path_len = 0;
    path_point(env, 0);
    write_observations(env);
}

// [DESIGN] Breaks brick b: +1, and a fresh wall once the last one is gone.
static float break_brick(Env* env, int b, float t) {
    env->bricks[b] = 0;
    env->broken_at[b] = t;
    int left = 0;
    for (int k = 0; k < NUM_BRICKS; k++) left += env->bricks[k];
    if (left == 0) memset(env->bricks, 1, sizeof(env->bricks));
    return 1;
}

// [DESIGN] When does a point moving (x, y) -> (x + dx, y + dy) enter the box
// [x0, x1] x [y0, y1]? Returns the time in [0, 1) or -1 (never / moving
// away); *axis = 0 if it enters through a left/right face, 1 if top/bottom.
static float enter_time(float x, float y, float dx, float dy,
                        float x0, float x1, float y0, float y1, int* axis) {
    float tx0 = -INFINITY, tx1 = INFINITY, ty0 = -INFINITY, ty1 = INFINITY;
    if (dx != 0) { float a = (x0 - x) / dx, b = (x1 - x) / dx; tx0 = fminf(a, b); tx1 = fmaxf(a, b); }
    else if (x < x0 || x > x1) return -1;
    if (dy != 0) { float a = (y0 - y) / dy, b = (y1 - y) / dy; ty0 = fminf(a, b); ty1 = fmaxf(a, b); }
    else if (y < y0 || y > y1) return -1;
    float t_in = fmaxf(tx0, ty0), t_out = fminf(tx1, ty1);
    if (t_in < 0 || t_in >= 1 || t_in >= t_out) return -1;  // already inside (just bounced), or no contact
    *axis = tx0 > ty0 ? 0 : 1;
    return t_in;
}

// [DESIGN] One tick: the ball moves s * (vx, vy) in one straight move, cut at
// the first thing its path meets (swept collision). The ball is a point
// against bricks, walls and the paddle each grown by the ball's radius. At a
// hit it bounces and goes on with the rest of the move. t0 is the tick's
// start time in the step (for the render path). Returns the reward.
static float move_ball(Env* env, float s, float t0) {
    float reward = 0, left = 1;  // fraction of the move still to go
    for (int bounce = 0; bounce < MAX_BOUNCES && left > 0; bounce++) {
        float x = env->ball_x, y = env->ball_y;
        float dx = s * env->ball_vx * left, dy = s * env->ball_vy * left;
        float t = 1;  // first hit, as a fraction of (dx, dy)
        int what = 0, axis = 0, brick = -1;  // what: 0 none, 1 wall, 2 brick, 3 paddle
        if (dx < 0 && x + dx < BALL_R) { t = (BALL_R - x) / dx; what = 1; axis = 0; }
        if (dx > 0 && x + dx > WIDTH - BALL_R) { t = (WIDTH - BALL_R - x) / dx; what = 1; axis = 0; }
        if (dy < 0 && y + dy < BALL_R && (BALL_R - y) / dy < t) { t = (BALL_R - y) / dy; what = 1; axis = 1; }
        // Bricks: only those near the path's bounding box.
        float lo_x = fminf(x, x + dx) - BALL_R, hi_x = fmaxf(x, x + dx) + BALL_R;
        float lo_y = fminf(y, y + dy) - BALL_R, hi_y = fmaxf(y, y + dy) + BALL_R;
        int c0 = (int)fmaxf(0, floorf(lo_x / BRICK_W)), c1 = (int)fminf(BRICK_COLS - 1, floorf(hi_x / BRICK_W));
        int r0 = (int)fmaxf(0, floorf((lo_y - BRICK_TOP) / BRICK_H));
        int r1 = (int)fminf(BRICK_ROWS - 1, floorf((hi_y - BRICK_TOP) / BRICK_H));
        for (int r = r0; r <= r1; r++) for (int c = c0; c <= c1; c++) {
            int b = r * BRICK_COLS + c, a;
            if (!env->bricks[b]) continue;
            float bx = c * BRICK_W, by = BRICK_TOP + r * BRICK_H;
            float tb = enter_time(x, y, dx, dy, bx - BALL_R, bx + BRICK_W + BALL_R,
                                  by - BALL_R, by + BRICK_H + BALL_R, &a);
            if (tb >= 0 && tb < t) { t = tb; what = 2; axis = a; brick = b; }
        }
        // Paddle: the ball's bottom crosses the paddle's top line on the way
        // down, within the paddle's width (grown by the radius).
        float top = PADDLE_Y - BALL_R;
        if (dy > 0 && y <= top && y + dy >= top) {
            float tp = (top - y) / dy;
            if (tp < t && fabsf(x + tp * dx - env->paddle_x) <= PADDLE_HALF + BALL_R) { t = tp; what = 3; }
        }
        env->ball_x = x + t * dx;
        env->ball_y = y + t * dy;
        float now = t0 + (1 - left + t * left);  // time in the step, in ticks
        left -= t * left;
        if (what == 0) break;
        if (what == 3) {
            // Where it lands on the paddle sets the return angle: the centre
            // sends it straight up, the edges off at 60 degrees. That is the
            // agent's aim.
            float offset = (env->ball_x - env->paddle_x) / (PADDLE_HALF + BALL_R);
            env->ball_vx = BALL_SPEED * sinf(offset * MAX_BOUNCE);
            env->ball_vy = -BALL_SPEED * cosf(offset * MAX_BOUNCE);
        } else if (axis == 0) env->ball_vx = -env->ball_vx;
        else env->ball_vy = -env->ball_vy;
        if (what == 2) reward += break_brick(env, brick, now);
        if (env->path_len < PATH_MAX(env->cfg.frame_skip) - 1) path_point(env, now);
    }
    return reward;
}

// [CONTRACT] One step = frame_skip ticks with the same action.
static int env_step(Env* env) {
    float s = env->cfg.speed;
    int action = env->actions[0];
    float dir = action == 1 ? -1.0f : action == 2 ? 1.0f : 0.0f, reward = 0;
    int done = 0;
    env->steps++;
    for (int b = 0; b < NUM_BRICKS; b++) env->broken_at[b] = -1;
    env->path_len = 0;
    path_point(env, 0);  // the step starts where the last one ended
    for (int f = 0; f < env->cfg.frame_skip && !done; f++) {
        env->paddle_x = fminf(fmaxf(env->paddle_x + dir * s * PADDLE_SPEED, PADDLE_HALF), WIDTH - PADDLE_HALF);
        reward += move_ball(env, s, f);
        env->frames += env->cfg.speed;
        if (env->ball_y > HEIGHT) {  // missed (centre past the bottom): lose a life
            env->lives--;
            if (env->lives <= 0) done = 1;
            else launch_ball(env);
        }
        if (env->frames >= env->cfg.max_frames) done = 1;
        path_point(env, f + 1);
    }
    env->score += reward;
    env->rewards[0] = reward;
    env->terminals[0] = env->lives <= 0;  // a real end: out of lives
    env->truncations[0] = done && env->lives > 0;  // cut off by max_frames
    if (!done) {
        write_observations(env);
        return 0;
    }
    env->log.score += env->score;
    env->log.episode_return += env->score;
    env->log.episode_length += env->steps;
    env->log.episode_frames += env->frames;
    env->log.n += 1;
    return 1;  // the binding calls env_reset, which writes fresh observations
}

// [CONTRACT] The scripted baseline: keep the paddle under the ball, a little
// to the side that sends it back toward the middle. It never misses a slow
// ball but does not aim at bricks, so a trained policy can beat it.
static void env_scripted(Env* env, int* actions) {
    float aim = env->ball_x < WIDTH / 2 ? -6.0f : 6.0f;  // paddle right of the ball: ball goes left
    float target = env->ball_vy > 0 ? env->ball_x - aim : WIDTH / 2;
    float dx = target - env->paddle_x;
    actions[0] = fabsf(dx) < 2.0f ? 0 : dx < 0 ? 1 : 2;
}

// [CONTRACT] Draw moment render_t of the last step: 0 = where it started,
// 1 = now. The ball follows the step's path (ticks and bounces) in straight
// lines; bricks broken during the step stay visible until they broke.
static void env_render(Env* env) {
    float* last = env->path + 4 * (env->path_len - 1);
    float at = env->render_t * last[0];  // in ticks since the step started
    int i = 0;
    while (i < env->path_len - 2 && env->path[4 * (i + 1)] <= at) i++;
    float* a = env->path + 4 * i;
    float* b = env->path + 4 * (env->path_len > 1 ? i + 1 : i);
    float w = b[0] > a[0] ? fminf(fmaxf((at - a[0]) / (b[0] - a[0]), 0), 1) : 1;
    float reach = (env->cfg.speed + 1) * BALL_SPEED * (b[0] - a[0]) + 1;
    if (fabsf(b[2] - a[2]) > reach) w = w < 0.5f ? 0.0f : 1.0f;  // a relaunch: no streak
    float bx = a[1] + w * (b[1] - a[1]), by = a[2] + w * (b[2] - a[2]), px = a[3] + w * (b[3] - a[3]);
    ClearBackground((Color){12, 12, 24, 255});
    static const Color rows[BRICK_ROWS] = {{230, 41, 55, 255}, {255, 120, 0, 255}, {255, 203, 0, 255},
                                           {0, 200, 80, 255}, {0, 150, 240, 255}, {140, 80, 220, 255}};
    for (int k = 0; k < NUM_BRICKS; k++) {
        if (!env->bricks[k] && !(env->broken_at[k] >= 0 && env->broken_at[k] > at)) continue;
        int r = k / BRICK_COLS, c = k % BRICK_COLS;
        DrawRectangle(c * BRICK_W + 1, BRICK_TOP + r * BRICK_H + 1, BRICK_W - 2, BRICK_H - 2, rows[r]);
    }
    DrawRectangle((int)(px - PADDLE_HALF), PADDLE_Y, 2 * PADDLE_HALF, 5, RAYWHITE);
    DrawCircleV((Vector2){bx, by}, BALL_R, RAYWHITE);
    DrawText(TextFormat("%d  lives %d", (int)env->score, env->lives), 4, 4, 10, RAYWHITE);
}
