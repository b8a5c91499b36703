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
//   frame_skip = k: one step plays k frames with the same action and sums
//                   their rewards (the agent decides every k-th frame);
//   speed = s:      every frame moves things s times farther. Rendering can
//                   draw the in-between moments (env->render_t), so playback
//                   stays smooth.
// Both shorten the horizon in decisions by k (or s). One step costs k * s
// frames of cheap C work, small next to a network's forward pass.
//
// Marked [CONTRACT] = required by puffer_env.h. Marked [DESIGN] = this env's
// own choices: change them freely.
#include "puffer_env.h"

// [CONTRACT] Episode statistics: floats only, `n` (episodes counted) last.
typedef struct Log {
    float score;           // bricks broken per episode
    float episode_return;  // summed reward (equal to score here)
    float episode_length;  // steps (decisions)
    float episode_frames;  // frames of game time at speed 1: steps * frame_skip * speed
    float n;
} Log;

// [CONTRACT] Settings, filled by Python from make("breakout", key=value).
typedef struct Config {
    int frame_skip;  // frames per step, same action, rewards summed
    int speed;       // each frame moves things `speed` times farther
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

typedef struct Env {
    ENV_CONTRACT_FIELDS
    float ball_x, ball_y, ball_vx, ball_vy;  // [DESIGN] velocity per frame at speed 1
    float paddle_x;                          // paddle centre
    uint8_t bricks[NUM_BRICKS];              // 1 = standing
    int broken_at[NUM_BRICKS];               // path index where it broke in the last step, or -1
    int lives, frames, steps;
    float score;
    // The path of the last step, one point per speed-1 frame: render draws
    // moment t of the step from it. path_len = frame_skip * speed + 1.
    float* path;  // [path_len * 3]: ball x, ball y, paddle x
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
    env->path = calloc((env->cfg.frame_skip * env->cfg.speed + 1) * 3, sizeof(float));
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

// [CONTRACT] Start an episode.
static void env_reset(Env* env) {
    memset(env->bricks, 1, sizeof(env->bricks));
    for (int b = 0; b < NUM_BRICKS; b++) env->broken_at[b] = -1;
    env->paddle_x = WIDTH / 2;
    env->lives = env->cfg.lives;
    env->frames = env->steps = 0;
    env->score = 0;
    launch_ball(env);
    env->path_len = 1;
    env->path[0] = env->ball_x; env->path[1] = env->ball_y; env->path[2] = env->paddle_x;
    write_observations(env);
}

// [DESIGN] The standing brick under point (x, y), or -1.
static int brick_at(Env* env, float x, float y) {
    if (y < BRICK_TOP || y >= BRICK_TOP + BRICK_ROWS * BRICK_H || x < 0 || x >= WIDTH) return -1;
    int b = (int)((y - BRICK_TOP) / BRICK_H) * BRICK_COLS + (int)(x / BRICK_W);
    return env->bricks[b] ? b : -1;
}

// [DESIGN] Moves the ball one speed-1 frame (2 pixels, less than its radius,
// so it never jumps through a brick) and returns the reward. At speed s the
// caller runs s of these per frame: the same physics, s times farther.
static float move_ball(Env* env, int path_index) {
    float reward = 0;
    env->ball_x += env->ball_vx;
    env->ball_y += env->ball_vy;
    if (env->ball_x < BALL_R) { env->ball_x = 2 * BALL_R - env->ball_x; env->ball_vx = fabsf(env->ball_vx); }
    if (env->ball_x > WIDTH - BALL_R) { env->ball_x = 2 * (WIDTH - BALL_R) - env->ball_x; env->ball_vx = -fabsf(env->ball_vx); }
    if (env->ball_y < BALL_R) { env->ball_y = 2 * BALL_R - env->ball_y; env->ball_vy = fabsf(env->ball_vy); }
    // Bricks: test the ball's leading edge, vertically first.
    int b = brick_at(env, env->ball_x, env->ball_y + (env->ball_vy > 0 ? BALL_R : -BALL_R));
    if (b >= 0) env->ball_vy = -env->ball_vy;
    else if ((b = brick_at(env, env->ball_x + (env->ball_vx > 0 ? BALL_R : -BALL_R), env->ball_y)) >= 0) env->ball_vx = -env->ball_vx;
    if (b >= 0) {
        env->bricks[b] = 0;
        env->broken_at[b] = path_index;
        reward += 1;
        int left = 0;
        for (int k = 0; k < NUM_BRICKS; k++) left += env->bricks[k];
        if (left == 0) memset(env->bricks, 1, sizeof(env->bricks));  // a fresh wall
    }
    // Paddle: the ball's bottom crossed the paddle's top this frame. Where it
    // lands on the paddle sets the return angle: the centre sends it straight
    // up, the edges send it off at 60 degrees. That is the agent's aim.
    float bottom = env->ball_y + BALL_R;
    if (env->ball_vy > 0 && bottom >= PADDLE_Y && bottom - env->ball_vy < PADDLE_Y
            && fabsf(env->ball_x - env->paddle_x) <= PADDLE_HALF + BALL_R) {
        float offset = (env->ball_x - env->paddle_x) / (PADDLE_HALF + BALL_R);
        env->ball_vx = BALL_SPEED * sinf(offset * MAX_BOUNCE);
        env->ball_vy = -BALL_SPEED * cosf(offset * MAX_BOUNCE);
    }
    return reward;
}

// [CONTRACT] One step = frame_skip frames with the same action.
static int env_step(Env* env) {
    int s = env->cfg.speed, action = env->actions[0];
    float dir = action == 1 ? -1.0f : action == 2 ? 1.0f : 0.0f, reward = 0;
    int done = 0, p = 0;
    env->steps++;
    for (int b = 0; b < NUM_BRICKS; b++) env->broken_at[b] = -1;
    float* path = env->path;  // the step starts where the last one ended
    path[0] = env->ball_x; path[1] = env->ball_y; path[2] = env->paddle_x;
    for (int f = 0; f < env->cfg.frame_skip && !done; f++) {
        for (int u = 0; u < s && !done; u++) {  // one frame at speed s = s speed-1 frames
            env->paddle_x = fminf(fmaxf(env->paddle_x + dir * PADDLE_SPEED, PADDLE_HALF), WIDTH - PADDLE_HALF);
            reward += move_ball(env, p + 1);
            env->frames++;
            if (env->ball_y > HEIGHT) {  // missed (centre past the bottom): lose a life
                env->lives--;
                if (env->lives <= 0) done = 1;
                else launch_ball(env);
            }
            if (env->frames >= env->cfg.max_frames) done = 1;
            p++;
            path[3 * p] = env->ball_x; path[3 * p + 1] = env->ball_y; path[3 * p + 2] = env->paddle_x;
        }
    }
    env->path_len = p + 1;
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
// 1 = now. Positions come from the step's path; bricks broken during the step
// stay visible until the moment they broke.
static void env_render(Env* env) {
    float at = env->render_t * (env->path_len - 1);
    int i = (int)at;
    if (i >= env->path_len - 1) i = env->path_len - 2;
    if (i < 0) i = 0;
    float w = env->path_len > 1 ? at - i : 0.0f;
    float* a = env->path + 3 * i;
    float* b = env->path + 3 * (env->path_len > 1 ? i + 1 : i);
    if (fabsf(b[1] - a[1]) > 3 * BALL_SPEED) w = w < 0.5f ? 0.0f : 1.0f;  // a relaunch: no streak
    float bx = a[0] + w * (b[0] - a[0]), by = a[1] + w * (b[1] - a[1]), px = a[2] + w * (b[2] - a[2]);
    ClearBackground((Color){12, 12, 24, 255});
    static const Color rows[BRICK_ROWS] = {{230, 41, 55, 255}, {255, 120, 0, 255}, {255, 203, 0, 255},
                                           {0, 200, 80, 255}, {0, 150, 240, 255}, {140, 80, 220, 255}};
    for (int k = 0; k < NUM_BRICKS; k++) {
        if (!env->bricks[k] && !(env->broken_at[k] > 0 && env->broken_at[k] > at)) continue;
        int r = k / BRICK_COLS, c = k % BRICK_COLS;
        DrawRectangle(c * BRICK_W + 1, BRICK_TOP + r * BRICK_H + 1, BRICK_W - 2, BRICK_H - 2, rows[r]);
    }
    DrawRectangle((int)(px - PADDLE_HALF), PADDLE_Y, 2 * PADDLE_HALF, 5, RAYWHITE);
    DrawCircleV((Vector2){bx, by}, BALL_R, RAYWHITE);
    DrawText(TextFormat("%d  lives %d", (int)env->score, env->lives), 4, 4, 10, RAYWHITE);
}
