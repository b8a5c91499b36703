// vec_actions.h: the actions buffer (part of vec_binding.h): how many numbers
// one agent's action is, and the check every buffer passes before any env
// steps.
//
// Discrete envs (the default, ACTION_TYPE int): one int per agent, in
// 0..num_actions-1. Continuous envs (`#define ACTION_TYPE float` before
// puffer_env.h): num_actions floats per agent, each in [action_low,
// action_high] from env_spaces.
#include <float.h>

// [DESIGN] int or float, nothing else: Python maps the buffer as int32 or
// float32, and a wider type would put every agent's action at the wrong place.
_Static_assert(sizeof(ACTION_TYPE) == 4, "ACTION_TYPE must be int (discrete) or float (continuous)");

// 1 for continuous actions: a constant, so the compiler keeps one branch.
#define PL_CONTINUOUS ((ACTION_TYPE)0.5 != (ACTION_TYPE)0)
int pl_actions_are_float(void) { return PL_CONTINUOUS; }

// ACTION_TYPE values per agent in the buffer.
static int pl_action_width(const Spaces* s) { return PL_CONTINUOUS ? s->num_actions : 1; }

// [CONTRACT] A continuous env's bounds: finite, low < high. Returns 0, or 1
// with the message in err.
static int pl_check_action_bounds(const Spaces* s, char* err, int err_len) {
    float lo = s->action_low, hi = s->action_high;
    if (!PL_CONTINUOUS || (isfinite(lo) && isfinite(hi) && lo < hi)) return 0;
    if (err && err_len > 0)
        snprintf(err, err_len, "env_spaces set action_low = %g and action_high = %g; a continuous env "
                 "(ACTION_TYPE float) must set finite action_low < action_high, the bounds of every "
                 "action number (e.g. -1 and 1)", lo, hi);
    return 1;
}

// Returns 0 if every action may go to env_step, else 1 + the index of the
// first bad value, and nothing was changed. [DESIGN] Python (or anyone) may
// write anything into the shared buffer, so this runs every step; it is one
// pass over the buffer (vectorised), far below one env_step.
//   discrete:   env code indexes tables with actions, so one outside
//               0..num_actions-1 could read or write out of bounds.
//   continuous: NaN or inf is refused (a bug upstream, never a move);
//               then every value is clipped to [action_low, action_high]
//               in place, so env code only ever sees actions in bounds.
static int pl_check_actions(ACTION_TYPE* actions, int count, const Spaces* s) {
    int bad = 0;
#ifndef PL_NO_ACTION_CHECK  // defined only by bench/isolation.py, to measure the check's cost
    if (PL_CONTINUOUS) {
        for (int k = 0; k < count; k++) bad |= !(fabsf((float)actions[k]) <= FLT_MAX);
        if (bad)
            for (int k = 0; k < count; k++)
                if (!(fabsf((float)actions[k]) <= FLT_MAX)) return k + 1;
        const ACTION_TYPE lo = s->action_low, hi = s->action_high;
        for (int k = 0; k < count; k++) actions[k] = actions[k] < lo ? lo : actions[k] > hi ? hi : actions[k];
    } else {
        const unsigned num_actions = (unsigned)s->num_actions;
        for (int k = 0; k < count; k++) bad |= (unsigned)actions[k] >= num_actions;
        if (bad)
            for (int k = 0; k < count; k++)
                if ((unsigned)actions[k] >= num_actions) return k + 1;
    }
#else
    (void)actions; (void)count; (void)s;
#endif
    return bad;
}
