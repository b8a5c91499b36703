"""Every exercise's check, judged honestly: the reference solution (cut from
the solved lesson) passes, and known-wrong answers fail with a message that
says what is wrong (off-by-one, missing cap, wrong sign, wrong dtype, a typo
that compiles). The table this prints (pytest -s) is the one the closing
note quotes."""
import math

import numpy as np
import pytest

from puffer_learn.widgets.exercises import CORRECT, INCORRECT, NOT_ATTEMPTED, Exercise, normalized_code
from puffer_learn.widgets.lessons import (lesson0, lesson1, lesson2, lesson3, lesson4, lesson5, lesson6, lesson7,
                                          lesson8, lesson9)
from puffer_learn.widgets.lessons.shared import read_env_file, section_span

LESSONS = {module.__name__.rsplit(".", 1)[1]: module for module in (lesson0, lesson1, lesson2, lesson3, lesson4,
                                                                   lesson5, lesson6, lesson7, lesson8, lesson9)}


def _entity_forward(pool, transpose=False, self_last=False):
    """A wrong MyEntityPolicy for lesson 3's forward exercise."""
    import torch

    from puffer_learn.training.policies import EntityPolicy

    class Wrong(EntityPolicy):
        def forward(self, obs, state=None):
            self_size, n, f = self.entity_layout
            if transpose:
                objects = obs[:, self_size:].reshape(obs.shape[0], f, n).transpose(1, 2)
            else:
                objects = obs[:, self_size:].reshape(obs.shape[0], n, f)
            pooled = pool(self.entity(objects))
            parts = [pooled, obs[:, :self_size]] if self_last else [obs[:, :self_size], pooled]
            hidden = self.body(torch.cat(parts, dim=1))
            return self.actor(hidden), self.critic(hidden).squeeze(-1), state
    return Wrong


def _gae(cut_delta=True, cut_trace=True, bootstrap=True, shift=0, returns_plus_values=True):
    """A wrong GAE for lesson 8's first exercise (one known mistake switched on)."""
    import torch

    def gae(rewards, values, ended, last_value, gamma, gae_lambda):
        if shift:
            ended = torch.roll(ended, shift, 0)
            ended[0 if shift > 0 else -1] = 0
        advantages = torch.zeros_like(rewards)
        next_advantage = torch.zeros_like(last_value)
        next_value = last_value if bootstrap else torch.zeros_like(last_value)
        for t in reversed(range(rewards.shape[0])):
            keep = 1.0 - ended[t]
            delta = rewards[t] + gamma * next_value * (keep if cut_delta else 1) - values[t]
            next_advantage = delta + gamma * gae_lambda * (keep if cut_trace else 1) * next_advantage
            advantages[t] = next_advantage
            next_value = values[t]
        return advantages, (advantages + values) if returns_plus_values else advantages
    return gae


def _policy_loss(pick=min, sign=-1, kl="k3", fraction="outside"):
    """A wrong clipped policy loss for lesson 8's second exercise."""
    import torch

    def policy_loss(new_logprobs, old_logprobs, advantages, clip_coef):
        log_ratio = new_logprobs - old_logprobs
        ratio = log_ratio.exp()
        terms = (ratio * advantages, ratio.clamp(1 - clip_coef, 1 + clip_coef) * advantages)
        loss = sign * (torch.min(*terms) if pick is min else torch.max(*terms)).mean()
        with torch.no_grad():
            approx_kl = ((ratio - 1) - log_ratio).mean() if kl == "k3" else (-log_ratio).mean()
            if fraction == "outside":
                clip_fraction = ((ratio - 1).abs() > clip_coef).float().mean()
            else:
                clip_fraction = (terms[0] > terms[1]).float().mean()
        return loss, approx_kl, clip_fraction
    return policy_loss


def _value_loss(kind):
    import torch

    def value_loss(new_values, old_values, returns, value_clip=0.0):
        if kind == "no half":
            return ((new_values - returns) ** 2).mean()
        if kind == "old values as target":
            return 0.5 * ((new_values - old_values) ** 2).mean()
        error = (new_values - returns) ** 2
        if (value_clip > 0 or kind == "always clip") and kind != "clip ignored":
            clipped = old_values + (new_values - old_values).clamp(-value_clip, value_clip)
            pick = torch.min if kind == "min" else torch.max
            error = pick(error, (clipped - returns) ** 2)
        return 0.5 * error.mean()
    return value_loss


def _entropy(kind):
    import torch

    def entropy(logits):
        if kind == "log of softmax":
            p = torch.softmax(logits, -1)
            return -(p * p.log()).sum(-1).mean()
        logp = torch.log_softmax(logits, -1)
        if kind == "sum over rows":
            return -(logp.exp() * logp).sum()
        if kind == "no minus":
            return (logp.exp() * logp).sum(-1).mean()
        return -(logits.exp() * logits).sum(-1).mean()  # "logits as log-probabilities"
    return entropy


def _explained_variance(kind):
    def explained_variance(values, returns):
        if kind == "values over returns":
            return float(1 - values.var() / returns.var())
        if kind == "unexplained":
            return float((returns - values).var() / returns.var())
        if kind == "tensor":
            return 1 - (returns - values).var() / returns.var()
        var = returns.var()  # "no nan guard": a constant-returns rollout gives inf or nan by luck
        return float(1 - (returns - values).var() / var) if var > 0 else 0.0
    return explained_variance


_ROW = '''
        *o++ = wrap_delta(ob->x - s->x, size) * inv;
        *o++ = wrap_delta(ob->y - s->y, size) * inv;
        *o++ = sqrtf(env->dist2[env->order[k]]) * inv;
        *o++ = ob->vx * inv_v;
        *o++ = ob->vy * inv_v;
        *o++ = ob->radius / ROCK_MAX_R;
        *o++ = (float)ob->kind;
'''
_LAYERS = '''
void linear(const float* W, const float* b, const float* x, float* y, int n_in, int n_out) {
    for (int o = 0; o < n_out; o++) {
        float sum = b[o];
        for (int i = 0; i < n_in; i++) sum += W[o * n_in + i] * x[i];
        y[o] = sum;
    }
}
void relu(float* x, int n) { for (int i = 0; i < n; i++) if (x[i] < 0) x[i] = 0; }
'''
_FORWARD = '''
void forward(const float* w, const float* obs, float* logits, float* value,
             int obs_size, int hidden, int num_actions) {
    float h1[256], h2[256];
    const float* W1 = w;                        const float* b1 = W1 + hidden * obs_size;
    const float* W2 = b1 + hidden;              const float* b2 = W2 + hidden * hidden;
    const float* Wa = b2 + hidden;              const float* ba = Wa + num_actions * hidden;
    const float* Wc = ba + num_actions;         const float* bc = Wc + hidden;
    linear(W1, b1, obs, h1, obs_size, hidden);
    relu(h1, hidden);
    linear(W2, b2, h1, h2, hidden, hidden);
    relu(h2, hidden);
    linear(Wa, ba, h2, logits, hidden, num_actions);
    linear(Wc, bc, h2, value, hidden, 1);
}
'''
_INPUT = '''
void policy_input(const void* env_obs, int agent, int obs_size, float* out) {
    const uint8_t* obs = (const uint8_t*)env_obs + agent * obs_size;
    for (int i = 0; i < obs_size; i++) out[i] = (float)obs[i];
}
'''

# (lesson namespace, exercise) -> [(what is wrong, wrong answer, a fragment the message must hold)]
WRONG = {
    ("lesson0", "agents"): [
        ("forgot the puffers per arena", lambda n: n, "count the puffers"),
        ("off by one", lambda n: 8 * n + 1, "count the puffers"),
        ("float instead of a count", lambda n: 8.0 * n, "whole number"),
    ],
    ("lesson0", "solve_step"): [
        ("ignores the threshold argument",
         lambda metrics, threshold=0.9: next((m["global_step"] for m in metrics
                                              if m["ratio"] is not None and m["ratio"] >= 0.9), None),
         "threshold argument"),
        ("strict > (off by one at the threshold)",
         lambda metrics, threshold=0.9: next((m["global_step"] for m in metrics
                                              if m["ratio"] is not None and m["ratio"] > threshold), None),
         "equal to the threshold"),
        ("last hit instead of the first",
         lambda metrics, threshold=0.9: ([m["global_step"] for m in metrics
                                          if m["ratio"] is not None and m["ratio"] >= threshold] or [None])[-1],
         "first reaches"),
    ],
    ("lesson1", "own_features"): [
        ("missing fminf cap", """
        *o++ = 2.0f * me->x * inv - 1.0f;
        *o++ = 2.0f * me->y * inv - 1.0f;
        *o++ = HEADING_DX[me->heading];
        *o++ = HEADING_DY[me->heading];
        *o++ = me->last_reward;""", "two stars in one tick"),
        ("x scaled to [0, 1] (off by one)", """
        *o++ = me->x * inv;
        *o++ = 2.0f * me->y * inv - 1.0f;
        *o++ = HEADING_DX[me->heading];
        *o++ = HEADING_DY[me->heading];
        *o++ = fminf(me->last_reward, 1.0f);""", "feature 0 (x)"),
        ("a typo that compiles: DX twice", """
        *o++ = 2.0f * me->x * inv - 1.0f;
        *o++ = 2.0f * me->y * inv - 1.0f;
        *o++ = HEADING_DX[me->heading];
        *o++ = HEADING_DX[me->heading];
        *o++ = fminf(me->last_reward, 1.0f);""", "feature 3 (heading dy)"),
        ("wrong sign on y", """
        *o++ = 2.0f * me->x * inv - 1.0f;
        *o++ = 1.0f - 2.0f * me->y * inv;
        *o++ = HEADING_DX[me->heading];
        *o++ = HEADING_DY[me->heading];
        *o++ = fminf(me->last_reward, 1.0f);""", "feature 1 (y)"),
    ],
    ("lesson1", "eat"): [
        ("the star is not respawned", """
            if (dx * dx + dy * dy <= r2) {
                reward += 1;
            }""", "does the eaten star move"),
        ("a typo that compiles: +2", """
            if (dx * dx + dy * dy <= r2) {
                reward += 2;
                respawn_star(env, &env->stars[s]);
            }""", "exactly +1"),
        ("wrong sign in the distance", """
            if (dx * dx - dy * dy <= r2) {
                reward += 1;
                respawn_star(env, &env->stars[s]);
            }""", "rewards differ"),
        ("radius not squared", """
            if (dx * dx + dy * dy <= env->cfg.eat_radius) {
                reward += 1;
                respawn_star(env, &env->stars[s]);
            }""", "rewards differ"),
    ],
    ("lesson1", "episode_log"): [
        ("n never incremented", """
    float per_puffer = total / env->cfg.num_puffers;
    env->log.score += per_puffer;
    env->log.episode_return += per_puffer;
    env->log.episode_length += env->tick;""", "never reports a finished episode"),
        ("score not per puffer", """
    env->log.score += total;
    env->log.episode_return += total;
    env->log.episode_length += env->tick;
    env->log.n += 1;""", "your score is"),
        ("off by one: length counts episodes", """
    float per_puffer = total / env->cfg.num_puffers;
    env->log.score += per_puffer;
    env->log.episode_return += per_puffer;
    env->log.episode_length += 1;
    env->log.n += 1;""", "your episode_length is"),
        ("wrong sign", """
    float per_puffer = total / env->cfg.num_puffers;
    env->log.score -= per_puffer;
    env->log.episode_return += per_puffer;
    env->log.episode_length += env->tick;
    env->log.n += 1;""", "your score is"),
    ],
    ("lesson2", "relative"): [
        ("no wrap-around", lambda ship, obj, size: (obj - ship) / (size / 2), "the other way round"),
        ("divided by the whole size", lambda ship, obj, size: ((obj - ship + size / 2) % size - size / 2) / size,
         "mind the scale"),
        ("wrong sign", lambda ship, obj, size: ((ship - obj + size / 2) % size - size / 2) / (size / 2),
         "sign"),
    ],
    ("lesson2", "object_row"): [
        ("no wrap-around", _ROW.replace("wrap_delta(ob->x - s->x, size)", "(ob->x - s->x)"), "short way round"),
        ("size not scaled", _ROW.replace("ob->radius / ROCK_MAX_R", "ob->radius"), "ROCK_MAX_R"),
        ("velocity scaled like a position", _ROW.replace("ob->vx * inv_v", "ob->vx * inv"), "inv_v"),
        ("distance left out", _ROW.replace("*o++ = sqrtf(env->dist2[env->order[k]]) * inv;\n", ""), "7 numbers"),
    ],
    ("lesson2", "cooldown"): [
        ("truncates (off by one)", lambda seconds, tps=30: max(1, int(seconds * tps - 1e-9)), "nearest"),
        ("no floor at 1 tick", lambda seconds, tps=30: round(seconds * tps), "at least 1 tick"),
        ("float ticks (wrong dtype)", lambda seconds, tps=30: max(1.0, float(round(seconds * tps))), "int"),
    ],
    ("lesson3", "nearest_first"): [
        ("farthest first (wrong sign)", lambda o: np.argsort(-np.hypot(o[:, 0], o[:, 1]), kind="stable"),
         "nearest first"),
        ("sorted by dx only", lambda o: np.argsort(np.abs(o[:, 0]), kind="stable"), "nearest first"),
        ("the distances, not the indices (wrong dtype)", lambda o: np.sort(np.hypot(o[:, 0], o[:, 1])),
         "indices"),
    ],
    ("lesson3", "forward"): [
        ("mean pool", _entity_forward(lambda enc: enc.mean(1)), "max over objects"),
        ("pooled over features (wrong axis)", _entity_forward(lambda enc: enc.amax(2)), "self_size + entity_hidden"),
        ("objects read as [features, objects] (wrong reshape)",
         _entity_forward(lambda enc: enc.amax(1), transpose=True), "shuffling the objects"),
        ("self features after the pooled vector", _entity_forward(lambda enc: enc.amax(1), self_last=True),
         "self features first"),
    ],
    ("lesson4", "decisions"): [
        ("floor division (off by one)", lambda frames, k: frames // k, "partial step"),
        ("float division (wrong dtype)", lambda frames, k: math.ceil(frames / k) * 1.0, "int"),
        ("multiplied", lambda frames, k: frames * k, "fewer"),
    ],
    ("lesson4", "gamma"): [
        ("k-th root instead of power", lambda g, k: g ** (1 / k), "compounds"),
        ("unchanged", lambda g, k: g, "compounds"),
        ("multiplied", lambda g, k: g * k, "compounds"),
    ],
    ("lesson5", "layers"): [
        ("no bias", _LAYERS.replace("float sum = b[o];", "float sum = 0;"), "bias"),
        ("transposed weights ([in][out])", _LAYERS.replace("W[o * n_in + i]", "W[i * n_out + o]"), "[out][in]"),
        ("relu off by one", _LAYERS.replace("i < n; i++) if", "i < n - 1; i++) if"), "relu differs"),
        ("relu that keeps negatives", _LAYERS.replace("if (x[i] < 0) x[i] = 0;", "if (x[i] > 0) x[i] = 0;"),
         "negatives become 0"),
    ],
    ("lesson5", "forward"): [
        ("no relu after the second layer", _FORWARD.replace("relu(h2, hidden);", ""), "logits differ"),
        ("actor and critic tensors swapped", _FORWARD.replace(
            "const float* Wa = b2 + hidden;              const float* ba = Wa + num_actions * hidden;\n"
            "    const float* Wc = ba + num_actions;         const float* bc = Wc + hidden;",
            "const float* Wc = b2 + hidden;              const float* bc = Wc + hidden;\n"
            "    const float* Wa = bc + 1;                   const float* ba = Wa + num_actions * hidden;"),
         "logits differ"),
        ("value from the first hidden layer", _FORWARD.replace("linear(Wc, bc, h2, value, hidden, 1);",
                                                               "linear(Wc, bc, h1, value, hidden, 1);"),
         "the value differs"),
    ],
    ("lesson5", "lstm_reset"): [
        ("never resets (the stuck port)", "void end_episodes(float* h, float* c, const uint8_t* ended, int agents, "
                                          "int hidden) { return; }", "memory h was kept"),
        ("zeroes h only", "void end_episodes(float* h, float* c, const uint8_t* ended, int agents, int hidden) {"
                          " for (int a = 0; a < agents; a++) if (ended[a]) for (int j = 0; j < hidden; j++)"
                          " h[a * hidden + j] = 0; }", "memory c was kept"),
        ("zeroes every agent", "void end_episodes(float* h, float* c, const uint8_t* ended, int agents, int hidden) {"
                               " for (int i = 0; i < agents * hidden; i++) { h[i] = 0; c[i] = 0; } }",
         "zero only the agents"),
    ],
    ("lesson5", "obs_input"): [
        ("bytes read as floats", _INPUT.replace("const uint8_t* obs = (const uint8_t*)env_obs + agent * obs_size;",
                                                "const uint8_t* obs = (const uint8_t*)env_obs + agent * obs_size;"
                                                " const float* f = (const float*)env_obs + agent;")
                                       .replace("out[i] = (float)obs[i];", "out[i] = (i < 4) ? f[i] : obs[i];"),
         "do not reinterpret"),
        ("rescaled to 0-1", _INPUT.replace("(float)obs[i];", "obs[i] / 255.0f;"), "rescaled"),
        ("always agent 0", _INPUT.replace(" + agent * obs_size;", ";"), "agent 0's row"),
    ],
    ("lesson7", "push_frame"): [
        ("newest first", lambda s, o, new: np.concatenate(
            [o[:, None], np.where(new[:, None, None], 0, s)[:, :-1]], axis=1), "last slot"),
        ("never zeroed", lambda s, o, new: np.concatenate([s[:, 1:], o[:, None]], axis=1),
         "previous episode"),
        ("zeroes the rows that go on", lambda s, o, new: np.concatenate(
            [np.where(~new[:, None, None], 0, s)[:, 1:], o[:, None]], axis=1), "rows that go on"),
        ("zeroes after the push", lambda s, o, new: np.where(
            new[:, None, None], 0, np.concatenate([s[:, 1:], o[:, None]], axis=1)), "last slot"),
    ],
    ("lesson7", "cue_in_stack"): [
        ("one step too far", lambda delay, k: delay <= k, "count the steps"),
        ("one step short", lambda delay, k: delay < k - 1, "count the steps"),
        ("an int", lambda delay, k: int(delay <= k - 1), "return true or false"),
    ],
    ("lesson8", "gae"): [
        ("no bootstrap at the last step", _gae(bootstrap=False), "last step is not bootstrapped"),
        ("not cut at episode ends", _gae(cut_delta=False, cut_trace=False), "flow across episode ends"),
        ("advantage not cut at episode ends", _gae(cut_trace=False), "still flows back"),
        ("value not cut at episode ends", _gae(cut_delta=False), "delta still adds"),
        ("done mask one step late", _gae(shift=1), "one step late"),
        ("returns without the values", _gae(returns_plus_values=False), "PLUS the value"),
    ],
    ("lesson8", "policy_loss"): [
        ("max instead of min", _policy_loss(pick=max), "smaller one"),
        ("wrong sign", _policy_loss(sign=1), "wrong sign"),
        ("plain mean of -log ratio as KL", _policy_loss(kl="k1"), "low-variance estimator"),
        ("clip fraction counts only active clips", _policy_loss(fraction="active"), "every sample"),
    ],
    ("lesson8", "value_loss"): [
        ("no 0.5", _value_loss("no half"), "half"),
        ("old values as the target", _value_loss("old values as target"), "the target is the return"),
        ("min of the clipped errors", _value_loss("min"), "larger"),
        ("value clip ignored", _value_loss("clip ignored"), "clipped error must count"),
        ("clipped even at value_clip 0", _value_loss("always clip"), "no clipping"),
    ],
    ("lesson8", "entropy"): [
        ("log of softmax (underflow)", _entropy("log of softmax"), "log_softmax"),
        ("summed over rows", _entropy("sum over rows"), "average over the rows"),
        ("missing minus", _entropy("no minus"), "never negative"),
        ("logits as log-probabilities", _entropy("logits as log-probabilities"), "unnormalized"),
    ],
    ("lesson8", "explained_variance"): [
        ("variance of values over returns", _explained_variance("values over returns"), "errors"),
        ("1 - EV", _explained_variance("unexplained"), "1 minus it"),
        ("a tensor, not a float", _explained_variance("tensor"), "plain python float"),
        ("0 instead of nan for constant returns", _explained_variance("no nan guard"), "nan"),
    ],
    ("lesson8", "match"): [
        ("two swapped", {"run A": "learning rate x10", "run B": "value loss off",
                         "run C": "advantages not normalized"}, "2 of 3 are wrong"),
        ("a cause twice", {"run A": "value loss off", "run B": "value loss off",
                           "run C": "advantages not normalized"}, "use each cause once"),
        ("an unknown cause", {"run A": "value loss off", "run B": "lr too high",
                              "run C": "advantages not normalized"}, "not one of the causes"),
        ("all three wrong", {"run A": "advantages not normalized", "run B": "value loss off",
                             "run C": "learning rate x10"}, "3 of 3 are wrong"),
    ],
    ("lesson8", "diagnosis"): [
        ("blames normalization", "normalize: advantages not normalized", "near log(8)"),
        ("blames the clipped loss", "policy loss: max instead of min", "approx_kl and clip_fraction"),
        ("blames gae", "gae: no bootstrap", "mystery value_loss"),
        ("not a suspect", "the learning rate", "one of the suspects"),
    ],
    ("lesson9", "space"): [
        ("learning rate on a linear scale", lambda: {"learning_rate": {"low": 1e-3, "high": 3e-2},
                                                     "update_epochs": {"low": 1, "high": 4}}, "log scale"),
        ("float epochs", lambda: {"learning_rate": {"low": 1e-3, "high": 3e-2, "log": True},
                                  "update_epochs": {"low": 1.0, "high": 4.0}}, "whole-number"),
        ("a typo in the name", lambda: {"learnig_rate": {"low": 1e-3, "high": 3e-2, "log": True},
                                        "update_epochs": {"low": 1, "high": 4}}, "unknown parameter"),
        ("bounds swapped", lambda: {"learning_rate": {"low": 3e-2, "high": 1e-3, "log": True},
                                    "update_epochs": {"low": 1, "high": 4}}, "empty range"),
    ],
    ("lesson9", "flags"): [
        ("no train. prefix", lambda p: [x for k, v in p.items() for x in (f"--{k}", str(v))], "--train.KEY"),
        ("numbers, not strings", lambda p: [x for k, v in p.items() for x in (f"--train.{k}", v)],
         "list of strings"),
        ("ints written as floats", lambda p: [x for k, v in p.items() for x in (f"--train.{k}", str(float(v)))],
         "int stays an int"),
    ],
}


# ---- Lesson 6: the slow env's sections, fixed wrongly ----
def _slow(name, old, new):
    """The reference answer of lesson 6's exercise `name` with one edit."""
    answer = getattr(lesson6, name).reference()
    assert old in answer, (name, old)
    return answer.replace(old, new)


WRONG.update({
    ("lesson6", "background"): [
        ("still built every reset", lambda: _slow("background", "    env->tick = 0;",
                                                  "    build_background(env);\n    env->tick = 0;"),
         "env_reset still builds"),
        ("never built", lambda: _slow("background", "build_background(env);", ""),
         "nothing builds the background"),
        ("draw_background deleted", lambda: _slow("background", "static void draw_background(Env* env) {",
                                                  "static void draw_tiles(Env* env) {"),
         "draw_background is missing"),
    ],
    ("lesson6", "score"): [
        ("still recounts the history", lambda: _slow(
            "score", "env->puffers[a].eaten += reward;",
            "float e = 0; for (int t = 0; t < env->tick; t++) e += reward; env->puffers[a].eaten = e;"),
         "still loops"),
        ("a while loop instead", lambda: _slow(
            "score", "env->puffers[a].eaten += reward;",
            "int t = 0; while (t++ < 1) env->puffers[a].eaten += reward;"), "still loops"),
        ("the last reward, not the total", lambda: _slow("score", "eaten += reward", "eaten = reward"),
         "the game changed"),
    ],
    ("lesson6", "observations"): [
        ("calloc kept, free dropped", lambda: _slow(
            "observations", "f4 dxv[16] = {0}, dyv[16] = {0};",
            "f4* dxv = calloc(16, sizeof(f4)); f4* dyv = calloc(16, sizeof(f4));"), "calls calloc"),
        ("malloc once per step", lambda: _slow(
            "observations", "f4 dxv[16] = {0}, dyv[16] = {0};",
            "f4* dxv = malloc(16 * sizeof(f4)); f4* dyv = malloc(16 * sizeof(f4));"), "calls malloc"),
        ("one block, grown with realloc", lambda: _slow(
            "observations", "f4 dxv[16] = {0}, dyv[16] = {0};",
            "static f4* dxv; static f4* dyv; dxv = realloc(dxv, 256); dyv = realloc(dyv, 256);"),
         "calls realloc"),
    ],
    ("lesson6", "timed_step"): [
        ("one clock() kept", lambda: "    clock_t started = clock();\n    return step_game(env);\n",
         "still calls clock()"),
        ("the wall clock instead", lambda: "    time_t now = time(NULL);\n    (void)now;\n"
                                          "    return step_game(env);\n", "still calls time()"),
        # the slow count_stars then writes past its history: the smoke run's AddressSanitizer says where
        ("the episode never ends", lambda: "    step_game(env);\n    return 0;\n", "crashed"),
    ],
})

CASES = [(ns, name, *case) for (ns, name), cases in WRONG.items() for case in cases]


def exercises():
    return [(ns, name, value) for ns, module in LESSONS.items()
            for name, value in vars(module).items() if isinstance(value, Exercise)]


def test_every_exercise_has_three_wrong_answers():
    names = {(ns, name) for ns, name, _ in exercises()}
    assert names == set(WRONG), names ^ set(WRONG)
    assert all(len(cases) >= 3 for cases in WRONG.values())


@pytest.mark.parametrize("ns,name,ex", exercises(), ids=lambda x: x if isinstance(x, str) else "")
def test_reference_passes_and_stub_is_not_attempted(ns, name, ex):
    result = ex.check(ex.reference())
    print(f"\n{ns}.{name:14s} reference: {result}")
    assert result.status == CORRECT, result
    stub = ex.stub()
    if isinstance(stub, str) and normalized_code(stub) == "":  # a C stub: only the TODO comment
        assert ex.check(stub).status == NOT_ATTEMPTED
        # A correct answer typed under the TODO line is judged, not "not attempted".
        assert ex.check(stub + ex.reference()).status == CORRECT


@pytest.mark.parametrize("ns,name,what,answer,fragment", CASES,
                         ids=[f"{ns}.{name}:{what}" for ns, name, what, _, _ in CASES])
def test_wrong_answer_fails_with_a_helpful_message(ns, name, what, answer, fragment):
    if callable(answer) and ns == "lesson6":  # built from the reference at test time
        answer = answer()
    result = getattr(LESSONS[ns], name).check(answer)
    print(f"\n{ns}.{name:14s} {what:40s} -> {result}")
    assert result.status == INCORRECT, result
    assert fragment.lower() in result.message.lower(), result.message


@pytest.mark.parametrize("ns,name,ex", exercises(), ids=lambda x: x if isinstance(x, str) else "")
def test_hints_do_not_quote_the_answer(ns, name, ex):
    """The solved lesson is the one source of the answer: no hint repeats a
    line of it (whitespace collapsed; lines under 12 characters skipped)."""
    from puffer_learn.widgets.exercises import solution_blocks

    lines = [" ".join(line.split()) for block in solution_blocks(ex.solved_cell())
             for line in block.splitlines() if len(line.strip()) >= 12]
    assert lines
    for hint in ex.hints:
        for line in lines:
            assert line not in " ".join(hint.split()), (hint, line)


def test_numbered_hints_are_one_hint_per_number_whatever_the_wrapping():
    from puffer_learn.widgets.lessons.shared import numbered_hints

    assert numbered_hints("""
        1. Divide by size / 2: the farthest
           anything can be (3.5 rounds to 4).
        2. Then return it.""") == ["Divide by size / 2: the farthest anything can be (3.5 rounds to 4).",
                                   "Then return it."]


def test_require_stops_with_one_line_naming_the_exercise():
    from puffer_learn.widgets.exercises import ExerciseNotDone

    ex = lesson4.decisions
    stub = ex.stub()
    namespace = {}
    exec(stub, namespace)  # the student copy's cell, untouched
    with pytest.raises(ExerciseNotDone) as stopped:
        ex.require(namespace["decisions"])
    assert str(stopped.value) == "finish exercise 1 (decisions per episode) first: it is not attempted yet"
    assert len(stopped.value._render_traceback_()) == 1
    with pytest.raises(ExerciseNotDone, match="a last partial step still counts"):
        ex.require(lambda frames, k: frames // k)
    ex.require(ex.reference())  # done: returns quietly
    # A redefined answer is judged again, never mistaken for an earlier one.
    for _ in range(3):
        with pytest.raises(ExerciseNotDone):
            ex.require(lambda frames, k: frames // k)
        ex.require(lambda frames, k: -(-frames // k))


def test_unfinished_episode_log_names_the_likely_cause():
    from puffer_learn.widgets.exercises import ExerciseNotDone

    ex = lesson1.episode_log
    missing_n = ex.reference().replace("env->log.n += 1;", "")
    with pytest.raises(ExerciseNotDone) as stopped:
        ex.require(missing_n)
    message = str(stopped.value)
    print("\n" + message)
    assert message.startswith("finish exercise 3 (episode log) first: your env never reports a finished episode")


@pytest.mark.parametrize("name", lesson6.SLOW_PARTS)
def test_lesson6_starter_is_the_slow_section_and_not_attempted(name):
    """The student starts from slow_target's own code: the stub is the
    section of envs/slow_target/slow_target.h, and checking it unchanged
    says "not attempted" (no compile)."""
    ex = getattr(lesson6, name)
    source = read_env_file(lesson6.SLOW_PATH)
    begin, end = section_span(source, name, "slow_target.h")
    assert normalized_code(ex.stub()) == normalized_code(source[begin:end])
    assert ex.check(ex.stub()).status == NOT_ATTEMPTED


def test_lesson8_shows_the_trainers_own_lines_and_hides_one_bug_in_the_mystery_parts():
    """Lesson 8 shows the steps of train()'s loop (rollout, learn, update_metrics)
    from trainer.py itself (so they follow any change there), and its mystery
    trainer differs from the package's in the value loss alone."""
    from puffer_learn.training.losses import PARTS

    ex = lesson8
    learn, rollout, metrics = (ex.trainer_section(name) for name in ("Learn", "Rollout", "Metrics"))
    for name in PARTS:
        if name != "explained_variance":
            assert f'part["{name}"]' in learn, name
    assert 'part["explained_variance"]' in metrics and metrics.startswith("def update_metrics(")
    assert "vec.step()" in rollout and rollout.startswith("def rollout(") and "def learn(" not in rollout
    with pytest.raises(LookupError, match="no section"):
        ex.trainer_section("Nope")
    assert max(ex.max_differences(PARTS, seed=3).values()) == 0
    gaps = ex.max_differences(ex.mystery_parts(), seed=3)
    assert gaps.pop("value_loss") > 0.1 and max(gaps.values()) == 0


def test_points_for_graders_give_a_share_for_the_parts_right(monkeypatch):
    """Exercise.points is the last line of an nbgrader test cell: a plain float, 0 when not
    attempted, the share of parts right (never all of them while check() says wrong)."""
    from puffer_learn.widgets.lessons import lesson8
    right = lesson8.match.reference()
    assert lesson8.match.points(right, out_of=2) == 2.0 and type(lesson8.match.points(right)) is float
    one_right = {"run A": right["run A"], "run B": right["run C"], "run C": right["run B"]}
    assert lesson8.match.points(one_right, out_of=3) == pytest.approx(1.0)
    assert lesson8.match.points(None) == 0.0 and lesson8.match.points({"run A": "?"}) == 0.0
    assert lesson8.diagnosis.points(lesson8.diagnosis.reference()) == 1.0  # no parts: all or nothing
    assert lesson8.diagnosis.points("entropy: wrong sign") == 0.0
    value_loss = lesson8.value_loss.reference()
    assert lesson8.value_loss.score(lambda n, o, r, c=0.0: value_loss(n, o, r, 0.0)) == 0.5  # no clipping
    # every part right while the check still finds something wrong: not full marks
    monkeypatch.setattr(lesson8.match, "parts", lambda answer: {"a": True, "b": True})
    assert lesson8.match.score(one_right) == 0.5
