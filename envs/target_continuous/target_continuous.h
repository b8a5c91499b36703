// target_continuous.h: target (envs/target/target.h) with continuous actions.
//
// The same game, puffers eating stars, but a puffer's action is two floats
// (ax, ay) in [-1, 1], a velocity: it moves speed * (ax, ay) in one tick,
// shortened to length speed when longer (a diagonal is no faster than a
// straight line). Everything else is target.h's code, unchanged: the
// structs, settings, observations, eating, rewards, the log and the drawing.
// The heading a puffer observes (and the nose it is drawn with) is the one of
// target's 8 compass headings nearest to its last move, so the observations
// mean what target's mean.
//
// Sharing target.h without copying it: the three functions that differ are
// renamed while target.h is included, and the versions below call them.
//
// Marked [CONTRACT] = required by puffer_env.h. Marked [DESIGN] = this env's
// own choices.
#define ACTION_TYPE float  // [CONTRACT] continuous actions (before puffer_env.h)
#define env_spaces target_env_spaces
#define env_step target_env_step
#define env_scripted target_env_scripted
#include "target/target.h"
#undef env_spaces
#undef env_step
#undef env_scripted

// [CONTRACT] target's sizes, with 2 action floats per puffer in [-1, 1].
static void env_spaces(const Config* c, Spaces* s) {
    target_env_spaces(c, s);
    s->num_actions = 2;  // (ax, ay): the velocity, in units of speed
    s->action_low = -1;
    s->action_high = 1;
}

// The compass heading (0..7, target's HEADING_DX/DY) nearest to (dx, dy).
static int nearest_heading(float dx, float dy) {
    int best = 0;
    for (int h = 1; h < 8; h++)
        if (HEADING_DX[h] * dx + HEADING_DY[h] * dy > HEADING_DX[best] * dx + HEADING_DY[best] * dy) best = h;
    return best;
}

// [CONTRACT] One tick. The move is this env's own; the rest of target's step
// (eating, rewards, flags, the log, observations) then runs as is: it gets
// speed 0 (it moves nobody) and each puffer's compass heading as its action.
static int env_step(Env* env) {
    float size = env->cfg.arena_size, speed = env->cfg.speed;
    float* actions = env->actions;  // the binding clipped them to [-1, 1]
    float headings[65];             // env_check allows at most 65 puffers
    for (int a = 0; a < env->cfg.num_puffers; a++) {
        Puffer* p = &env->puffers[a];
        float ax = actions[2 * a], ay = actions[2 * a + 1], len2 = ax * ax + ay * ay;
        // [DESIGN] sqrtf is correctly rounded everywhere (unlike sinf, cosf):
        // the web page computes the very same moves as the native program.
        if (len2 > 1) {
            float len = sqrtf(len2);
            ax /= len;
            ay /= len;
        }
        p->x = clamp(p->x + speed * ax, size);
        p->y = clamp(p->y + speed * ay, size);
        headings[a] = len2 > 0 ? nearest_heading(ax, ay) : p->heading;  // standing still: keep it
    }
    env->actions = headings;
    env->cfg.speed = 0;
    int over = target_env_step(env);
    env->actions = actions;
    env->cfg.speed = speed;
    return over;
}

// [CONTRACT] The scripted baseline: full speed straight at the nearest star,
// the first one in the puffer's observation (target lists stars nearest first,
// after 5 features of the puffer itself, as offsets / arena_size).
static void env_scripted(Env* env, float* actions) {
    for (int a = 0; a < env->cfg.num_puffers; a++) {
        const float* star = env->observations + a * env->obs_size + 5;
        float len = sqrtf(star[0] * star[0] + star[1] * star[1]);
        actions[2 * a] = len > 0 ? star[0] / len : 0;
        actions[2 * a + 1] = len > 0 ? star[1] / len : 0;
    }
}
