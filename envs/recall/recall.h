// recall.h: "remember the cue", the memory test of lesson 7.
//
// One agent per env. An episode is `delay` + 1 steps:
//   step 0          a cue: one of num_cues lamps is lit (the observation shows it)
//   steps 1..delay-1  blank: every lamp is dark, nothing to see
//   step delay      the "choose" light: the action taken now is the choice,
//                   +1 reward if it names the lamp that was lit at step 0, 0
//                   otherwise, and the episode ends.
// Actions on the cue and the blank steps change nothing. The cue appears in
// the observation of step 0 only: a policy that sees one observation at a
// time (an MLP) can only guess, 1 / num_cues of the time; a frame stack of k
// observations still holds the cue at the choice while delay <= k - 1; an
// LSTM can carry it for any delay it learns to. The score is the share of
// episodes chosen right; the scripted baseline reads the cue from the env's
// own state and scores 1.
//
// Marked [CONTRACT] = required by puffer_env.h. Marked [DESIGN] = this env's
// own choices: change them freely.
#include "puffer_env.h"

// [CONTRACT] Episode statistics: floats only, `n` (episodes counted) last.
typedef struct Log {
    float score;           // 1 if the choice named the cue, else 0
    float episode_return;  // summed reward (equal to score here)
    float episode_length;  // steps: delay + 1
    float n;
} Log;

// [CONTRACT] Settings, filled by Python from make("recall", key=value).
typedef struct Config {
    int num_cues;  // lamps, and actions: the choice names one lamp
    int delay;     // steps from the cue to the choice (the choice is at step `delay`)
} Config;

// [CONTRACT] The env struct starts with the shared fields.
typedef struct Env {
    ENV_CONTRACT_FIELDS
    int tick;         // [DESIGN] steps taken in this episode: 0 = the cue is showing
    int cue;          // the lamp lit at step 0: hidden from the observations after it
    int last_cue;     // the previous episode, for the picture: its cue,
    int last_choice;  // its choice (-1 before the first episode ends)
} Env;

// [CONTRACT] Default settings.
static void env_defaults(Config* c) {
    *c = (Config){.num_cues = 4, .delay = 7};
}

// [CONTRACT] Refuse settings that cannot work, with a message for the user.
static int env_check(const Config* c, char* err, int n) {
    if (c->num_cues < 2 || c->num_cues > 16) { snprintf(err, n, "num_cues must be in 2..16, got %d", c->num_cues); return 1; }
    if (c->delay < 1 || c->delay > 1000) { snprintf(err, n, "delay must be in 1..1000 (steps from the cue to the choice), got %d", c->delay); return 1; }
    return 0;
}

// [CONTRACT] Sizes. The agent sees num_cues lamps (1 = lit) and the
// "choose" light: num_cues + 1 numbers, each 0 or 1.
static void env_spaces(const Config* c, Spaces* s) {
    s->num_agents = 1;
    s->obs_size = c->num_cues + 1;
    s->num_actions = c->num_cues;
    s->render_width = 256;
    s->render_height = 128;
    s->obs_low = 0;
    s->obs_high = 1;
}

static void env_init(Env* env) { env->last_choice = -1; }
static void env_close(Env* env) { (void)env; }

// --8<-- [start:observations]
// [DESIGN] Every number is written every step, so nothing of the cue is
// left over in the buffer once step 0 is past.
static void write_observations(Env* env) {
    int k = env->cfg.num_cues;
    float* o = env->observations;
    for (int i = 0; i < k; i++) o[i] = (env->tick == 0 && i == env->cue) ? 1.0f : 0.0f;
    o[k] = env->tick == env->cfg.delay ? 1.0f : 0.0f;  // choose now
}
// --8<-- [end:observations]

// [CONTRACT] Start an episode: a new random cue, shown now.
static void env_reset(Env* env) {
    env->tick = 0;
    env->cue = pl_rand_int(&env->rng, env->cfg.num_cues);
    write_observations(env);
}

// --8<-- [start:step]
// [CONTRACT] One step. Returns 1 when the episode is over (after the choice).
static int env_step(Env* env) {
    env->rewards[0] = 0;
    env->terminals[0] = 0;
    env->truncations[0] = 0;
    if (env->tick < env->cfg.delay) {  // the cue or a blank step: the action does nothing
        env->tick++;
        write_observations(env);
        return 0;
    }
    // The choose light was on: this action is the choice.
    float right = env->actions[0] == env->cue ? 1.0f : 0.0f;
    env->rewards[0] = right;
    env->terminals[0] = 1;  // a real end: nothing follows the choice
    env->last_cue = env->cue;
    env->last_choice = env->actions[0];
    env->log.score += right;
    env->log.episode_return += right;
    env->log.episode_length += env->tick + 1;
    env->log.n += 1;
    return 1;  // the binding calls env_reset: the next observation is a new cue
}
// --8<-- [end:step]

// [CONTRACT] The scripted baseline: it reads the cue from the env's state,
// so it always remembers (the agent must do that from its observations).
static void env_scripted(Env* env, int* actions) {
    actions[0] = env->cue;
}

// [CONTRACT] Draw one frame: the lamps (the cue lit at step 0 only), the
// steps of the episode as a row of boxes, and the previous choice.
static void env_render(Env* env) {
    int k = env->cfg.num_cues, d = env->cfg.delay;
    ClearBackground((Color){16, 16, 28, 255});
    float gap = 256.0f / k;
    for (int i = 0; i < k; i++) {
        Color lamp = (env->tick == 0 && i == env->cue) ? GOLD : (Color){60, 60, 80, 255};
        DrawCircleV((Vector2){gap * (i + 0.5f), 40}, fminf(16, gap / 2 - 2), lamp);
    }
    // One box per step; the current one filled, the choice step in green.
    float w = 240.0f / (d + 1);
    for (int t = 0; t <= d; t++) {
        Color box = t == env->tick ? (t == d ? GREEN : RAYWHITE) : (Color){50, 50, 70, 255};
        DrawRectangle(8 + (int)(t * w), 76, (int)fmaxf(1, w - 2), 10, box);
    }
    if (env->tick == d) DrawText("choose!", 8, 92, 10, GREEN);
    if (env->last_choice >= 0)
        DrawText(TextFormat("last: chose %d, cue was %d", env->last_choice, env->last_cue), 8, 110, 10,
                 env->last_choice == env->last_cue ? GREEN : RED);
}
