"""Lesson 8, PPO from the inside (08_ppo_inside.ipynb).

The student's GAE, losses, entropy and explained variance are checked against
the package's own functions (puffer_learn/training/losses.py,
puffer_learn/training/policies.py) on random tensors; each known mistake is
recognised by computing it here and comparing. Then: broken runs matched to
their causes, and a mystery trainer with one silent bug."""
import functools
import inspect
import math

import torch

from puffer_learn.training import losses, policies, trainer
from puffer_learn.widgets.exercises import Exercise
from puffer_learn.widgets.lessons.shared import (as_tensor, close, numbered_hints, require_each, show_python as show,
                                                 wrong_answer)

LESSON = "08_ppo_inside.ipynb"


# What lesson 8 shows of the trainer: each step of one update is a function of
# training/trainer.py, shown from the file itself so the lesson never holds a stale copy.
TRAINER_STEPS = {"Rollout": trainer.rollout, "Learn": trainer.learn, "Metrics": trainer.update_metrics}


def trainer_section(name):
    """The source of one step of train()'s loop: "Rollout", "Learn" or "Metrics"."""
    if name not in TRAINER_STEPS:
        raise LookupError(f"train() has no section {name!r}; its steps are {', '.join(TRAINER_STEPS)}")
    return inspect.getsource(TRAINER_STEPS[name])


def _rollout(seed, steps=12, agents=6, ends=True):
    """Random rollout tensors: rewards, values, ended [T, agents], last_value [agents].
    With ends: episode ends inside the rollout and at its last step for some agents."""
    g = torch.Generator().manual_seed(seed)
    rewards = torch.randn(steps, agents, generator=g)
    values = torch.randn(steps, agents, generator=g)
    last_value = torch.randn(agents, generator=g) + 2.0  # away from 0, so a missing bootstrap shows
    ended = torch.zeros(steps, agents)
    if ends:
        ended[3, 0] = ended[7, 1] = ended[0, 2] = ended[5, 2] = ended[steps - 1, 3] = ended[steps - 2, 4] = 1
    return rewards, values, ended, last_value


def _gae_variant(rewards, values, ended, last_value, gamma, lam, *, cut_delta=True, cut_trace=True,
                 bootstrap=True, shift=0, decay=None):
    """GAE with one known mistake switched on (for the check's messages)."""
    T = rewards.shape[0]
    if shift:  # the mask read one step late/early
        ended = torch.roll(ended, shift, 0)
        ended[0 if shift > 0 else T - 1] = 0
    advantages = torch.zeros_like(rewards)
    next_advantage = torch.zeros_like(last_value)
    next_value = last_value if bootstrap else torch.zeros_like(last_value)
    for t in reversed(range(T)):
        keep = 1.0 - ended[t]
        delta = rewards[t] + gamma * next_value * (keep if cut_delta else 1.0) - values[t]
        next_advantage = delta + (gamma * lam if decay is None else decay) * (keep if cut_trace else 1.0) * next_advantage
        advantages[t] = next_advantage
        next_value = values[t]
    return advantages


def _check_gae(fn):
    for gamma, lam in ((0.99, 0.95), (0.9, 0.7)):
        for seed, ends in ((1, False), (2, True), (3, True)):
            args = _rollout(seed, ends=ends)
            copies = [a.clone() for a in args]
            out = fn(*args, gamma, lam)
            if not isinstance(out, tuple) or len(out) != 2:
                return False, "return two tensors: (advantages, returns)"
            adv, ret = (as_tensor(x, name) for x, name in zip(out, ("advantages", "returns")))
            if any(not (a == c).all() for a, c in zip(args, copies)):
                return False, "your function changed its inputs in place: write into new tensors"
            want_adv, want_ret = losses.compute_gae(*args, gamma, lam)
            if adv.shape != want_adv.shape:
                return False, f"advantages have shape {tuple(adv.shape)}, expected {tuple(want_adv.shape)} ([T, agents])"
            where = "with episode ends inside the rollout" if ends else "without episode ends"
            if not close(adv, want_adv):
                rewards, values, ended, last_value = args
                known = [
                    (dict(bootstrap=False), "the last step is not bootstrapped: after the last step comes "
                     "last_value (the critic's estimate of the observation after the rollout), not 0"),
                    (dict(cut_delta=False, cut_trace=False), "your advantages flow across episode ends: where "
                     "ended[t] = 1, neither the next value nor the next advantage may enter step t"),
                    (dict(cut_trace=False), "the next step's value is cut at episode ends, but the next "
                     "ADVANTAGE still flows back across them"),
                    (dict(cut_delta=False), "the advantage recursion is cut at episode ends, but delta "
                     "still adds gamma * V(next observation) there: that observation is a new episode's"),
                    (dict(shift=1), "your episode cuts are one step late: ended[t] = 1 means the episode "
                     "ended WITH step t, so the cut is between t and t + 1"),
                    (dict(shift=-1), "your episode cuts are one step early: ended[t] = 1 means the episode "
                     "ended WITH step t, so the cut is between t and t + 1"),
                    (dict(decay=gamma), "the advantage of the next step is discounted by gamma alone: GAE "
                     "decays it by gamma * lambda per step"),
                    (dict(decay=lam), "the advantage of the next step is discounted by lambda alone: GAE "
                     "decays it by gamma * lambda per step"),
                ]
                for options, message in known:
                    if close(adv, _gae_variant(rewards, values, ended, last_value, gamma, lam, **options)):
                        return False, f"{message} (gamma={gamma}, lambda={lam}, {where})"
                if close(-adv, want_adv):
                    return False, f"your advantages have the wrong sign: delta is r + gamma * V(next) - V(now) ({where})"
                gap = (adv - want_adv).abs().max().item()
                return False, (f"advantages differ from the package's by up to {gap:.3g} (gamma={gamma}, "
                               f"lambda={lam}, {where}); go backwards from the last step, one delta per step")
            if close(ret, want_adv):
                return False, "returns equal the advantages: the value target is the advantage PLUS the value"
            if not close(ret, want_ret):
                return False, "the advantages are right, the returns are not: returns = advantages + values"
    return True, ("matches compute_gae with episode ends inside the rollout, at its last step, and a "
                  "bootstrapped last step, for two settings of gamma and lambda")


gae = Exercise("GAE", _check_gae, numbered_hints("""
    1. Walk backwards from the last step t = T - 1 to 0, carrying the next step's value and advantage.
    2. After the last step the next value is last_value; where ended[t] = 1, multiply both the next value and
       the next advantage by 0 (1 - ended[t]).
    3. delta = r_t + gamma * V_next * (1 - ended_t) - V_t; A_t = delta + gamma * lambda * (1 - ended_t) *
       A_next; then V_next becomes V_t. Returns are A + V."""),
    number=1, lesson=LESSON, cell="def my_gae")


def _loss_args(seed, n=64):
    g = torch.Generator().manual_seed(seed)
    old = -torch.rand(n, generator=g) * 2 - 0.1  # log-probabilities (negative)
    new = (old + torch.randn(n, generator=g) * 0.4).requires_grad_()  # some ratios far outside the clip
    advantages = torch.randn(n, generator=g)
    return new, old, advantages


def _check_policy_loss(fn):
    for seed, clip in ((1, 0.2), (2, 0.1)):
        new, old, adv = _loss_args(seed)
        out = fn(new, old, adv, clip)
        if not isinstance(out, tuple) or len(out) != 3:
            return False, "return three values: (loss, approx_kl, clip_fraction)"
        loss, kl, frac = out
        loss = as_tensor(loss, "the loss")
        if loss.dim() != 0:
            return False, f"the loss must be one number (a 0-d tensor, the mean over samples), got shape {tuple(loss.shape)}"
        want, want_kl, want_frac = losses.clipped_policy_loss(new, old, adv, clip)
        log_ratio = (new - old).detach()
        ratio = log_ratio.exp()
        clipped = ratio.clamp(1 - clip, 1 + clip)
        if not torch.isclose(loss.detach(), want.detach(), atol=1e-5):
            value = loss.item()
            wrong = [(torch.min(ratio * adv, clipped * adv).mean(), "the loss has the wrong sign: the "
                      "optimizer minimizes the loss, so the loss is MINUS the objective"),
                     (-torch.max(ratio * adv, clipped * adv).mean(), "you take the larger of the clipped "
                      "and unclipped terms: PPO takes the smaller one (a pessimistic bound), so moving "
                      "past the clip earns nothing"),
                     (torch.max(ratio * adv, clipped * adv).mean(), "you take the larger of the two terms and "
                      "the loss has the wrong sign"),
                     (-(ratio * adv).mean(), "nothing is clipped: with the ratio outside [1 - clip, 1 + clip] "
                      "the objective must stop growing"),
                     (-(clipped * adv).mean(), "only the clipped term is used: take the smaller of the "
                      "clipped and unclipped terms"),
                     (-torch.min((1 / ratio) * adv, (1 / ratio).clamp(1 - clip, 1 + clip) * adv).mean(),
                      "the ratio is upside down: it is pi_new / pi_old"),
                     (-torch.min(log_ratio * adv, log_ratio.clamp(1 - clip, 1 + clip) * adv).mean(),
                      "the ratio is computed from log-probabilities without exp: ratio = exp(new - old)"),
                     (-torch.min(ratio * adv, ratio * adv.clamp(-clip, clip)).mean(),
                      "you clip the advantages: clip the probability ratio"),
                     ]
            return wrong_answer(value, wrong, f" (clip={clip})",
                                 f"the loss is {value:.4g}, the package's {want.item():.4g} (clip={clip})")
        if loss.grad_fn is None:
            return False, "the loss has no gradient: compute it from new_logprobs without torch.no_grad() or .detach()"
        grad = torch.autograd.grad(loss, new)[0]
        want_grad = torch.autograd.grad(want, new)[0]
        if not torch.allclose(grad, want_grad, atol=1e-6):
            return False, "the loss value is right but its gradient is not: compute it from new_logprobs itself"
        kl, frac = float(kl), float(frac)
        if abs(kl - float(want_kl)) > 1e-6:
            if abs(kl - float((-log_ratio).mean())) < 1e-6:
                return False, ("approx_kl is the plain mean of -log(ratio): use the low-variance estimator "
                               "(ratio - 1) - log(ratio), averaged (always >= 0)")
            if abs(kl + float(want_kl)) < 1e-6:
                return False, "approx_kl has the wrong sign: it is never negative"
            return False, f"approx_kl is {kl:.4g}, the package's {float(want_kl):.4g}: (ratio - 1) - log(ratio), averaged"
        if abs(frac - float(want_frac)) > 1e-6:
            active = float(((ratio * adv) > (clipped * adv)).float().mean())
            if abs(frac - active) < 1e-6:
                return False, ("clip_fraction counts only the samples where the clip changed the loss: "
                               "count every sample whose ratio is outside [1 - clip, 1 + clip]")
            return False, (f"clip_fraction is {frac:.4g}, the package's {float(want_frac):.4g}: the share of "
                           f"samples whose ratio is outside [1 - clip, 1 + clip]")
    return True, "loss, gradient, approx_kl and clip_fraction match clipped_policy_loss at two clip settings"


def _policy_loss_parts(fn):
    """{part: right at both clip settings} for partial credit: the loss (value
    and gradient), approx_kl and clip_fraction."""
    marks = {"loss": True, "approx_kl": True, "clip_fraction": True}
    for seed, clip in ((1, 0.2), (2, 0.1)):
        new, old, adv = _loss_args(seed)
        loss, kl, frac = fn(new, old, adv, clip)
        want, want_kl, want_frac = losses.clipped_policy_loss(new, old, adv, clip)
        loss = as_tensor(loss, "the loss")
        marks["loss"] &= (loss.dim() == 0 and loss.grad_fn is not None
                          and bool(torch.isclose(loss.detach(), want.detach(), atol=1e-5))
                          and torch.allclose(torch.autograd.grad(loss, new)[0],
                                             torch.autograd.grad(want, new)[0], atol=1e-6))
        marks["approx_kl"] &= abs(float(kl) - float(want_kl)) <= 1e-6
        marks["clip_fraction"] &= abs(float(frac) - float(want_frac)) <= 1e-6
    return marks


policy_loss = Exercise("clipped policy loss", _check_policy_loss, numbered_hints("""
    1. The ratio pi_new / pi_old is exp of the difference of the log-probabilities.
    2. Objective per sample: the smaller of ratio * A and clamp(ratio, 1 - clip, 1 + clip) * A. The loss is
       minus its mean.
    3. Under torch.no_grad(): approx_kl = mean of (ratio - 1) - log_ratio; clip_fraction = mean of (|ratio - 1|
       > clip) as floats."""),
    number=2, lesson=LESSON, cell="def my_policy_loss", parts=_policy_loss_parts)


def _check_value_loss(fn):
    g = torch.Generator().manual_seed(4)
    old = torch.randn(64, generator=g)
    new = (old + torch.randn(64, generator=g) * 0.5).requires_grad_()
    returns = old + torch.randn(64, generator=g)
    for clip in (0.0, 0.2):
        got = as_tensor(fn(new, old, returns, clip), "the value loss")
        if got.dim() != 0:
            return False, f"the loss must be one number (a 0-d tensor), got shape {tuple(got.shape)}"
        want = losses.value_loss(new, old, returns, clip)
        if abs(got.item() - want.item()) > 1e-5:
            value, nd = got.item(), new.detach()
            error = (nd - returns) ** 2
            clipped_error = (old + (nd - old).clamp(-clip, clip) - returns) ** 2
            wrong = [((error).mean(), "the package's value loss is HALF the mean squared error"),
                     (0.5 * error.sum(), "average over the samples, do not sum"),
                     (0.5 * (nd - old).pow(2).mean(), "the target is the return, not the rollout's old value"),
                     (0.5 * (nd - returns).abs().mean(), "square the error"),
                     ]
            if clip == 0:
                wrong.append((0.5 * torch.max(error, (old - returns) ** 2).mean(), "with value_clip = 0 "
                              "there is no clipping: only the plain error counts"))
            if clip > 0:
                wrong += [(0.5 * error.mean(), "with value_clip > 0 the clipped error must count too"),
                          (0.5 * torch.min(error, clipped_error).mean(), "with value clipping take the LARGER "
                           "of the two errors (the pessimistic one), not the smaller"),
                          (0.5 * ((nd.clamp(-clip, clip) - returns) ** 2).mean(), "clip the CHANGE from "
                           "old_values to at most value_clip, not the value itself"),
                          (0.5 * clipped_error.mean(), "with value clipping take the larger of the clipped "
                           "and the unclipped error"),
                          ]
            return wrong_answer(value, wrong, f" (value_clip={clip})", f"the value loss is {value:.4g}, "
                                 f"the package's {want.item():.4g} (value_clip={clip})")
        if got.grad_fn is None:
            return False, "the loss has no gradient: compute it from new_values without .detach()"
    return True, "matches value_loss with and without value clipping"


def _value_loss_parts(fn):
    """{part: right} for partial credit: the plain loss and the clipped one."""
    g = torch.Generator().manual_seed(4)
    old = torch.randn(64, generator=g)
    new = (old + torch.randn(64, generator=g) * 0.5).requires_grad_()
    returns = old + torch.randn(64, generator=g)
    marks = {}
    for part, clip in (("value_clip = 0", 0.0), ("value_clip > 0", 0.2)):
        got = as_tensor(fn(new, old, returns, clip), "the value loss")
        want = losses.value_loss(new, old, returns, clip)
        marks[part] = got.dim() == 0 and got.grad_fn is not None and abs(got.item() - want.item()) <= 1e-5
    return marks


value_loss = Exercise("value loss", _check_value_loss, numbered_hints("""
    1. The critic is fitted to the returns GAE produced: half the mean squared error.
    2. With value_clip > 0, a clipped prediction is old_values plus the change clamped to +-value_clip.
    3. With clipping, take torch.max of the plain and the clipped squared errors before the mean."""),
    number=3, lesson=LESSON, cell="def my_value_loss", parts=_value_loss_parts)


def _check_entropy(fn):
    g = torch.Generator().manual_seed(5)
    logits = torch.randn(32, 6, generator=g) * 2 + 3  # unnormalized, shifted: not log-probabilities
    got = as_tensor(fn(logits), "the entropy")
    if got.dim() != 0:
        return False, f"return one number, the mean over rows (a 0-d tensor), got shape {tuple(got.shape)}"
    want = policies.entropy(logits)
    if abs(got.item() - want.item()) > 1e-5:
        value = got.item()
        p = torch.softmax(logits, -1)
        wrong = [(-want, "the entropy is -sum(p * log p): it is never negative"),
                 (want * 32, "average over the rows (observations), do not sum"),
                 (want / math.log(2), "in nats (natural log), not bits"),
                 (-(logits.exp() * logits).sum(-1).mean(), "logits are unnormalized: turn them into "
                  "log-probabilities first (log_softmax)"),
                 (-(p * logits).sum(-1).mean(), "logits are unnormalized: turn them into log-probabilities "
                  "first (log_softmax)"),
                 ]
        return wrong_answer(value, wrong, "", f"your entropy is {value:.4g}, the package's {want.item():.4g}",
                             tol=1e-4)
    uniform = fn(torch.zeros(4, 8)).item()
    if abs(uniform - math.log(8)) > 1e-5:
        return False, f"a uniform policy over 8 actions should have entropy log(8) = {math.log(8):.4f}, yours {uniform:.4g}"
    certain = torch.tensor([[200.0, 0.0, -200.0], [0.0, 0.0, 300.0]])
    sure = fn(certain).item()
    if not math.isfinite(sure) or abs(sure) > 1e-5:
        return False, (f"a certain policy (one huge logit) gave {sure}, expected 0: log(softmax) is -inf where "
                       f"a probability underflows to 0; use log_softmax")
    return True, "matches the package's entropy, including uniform and certain policies"


entropy = Exercise("entropy", _check_entropy, numbered_hints("""
    1. Entropy of a categorical distribution: -sum over actions of p * log p, per row; then the mean.
    2. Get log p from the logits with torch.log_softmax (stable), and p as its exp."""),
    number=4, lesson=LESSON, cell="def my_entropy")


def _check_explained_variance(fn):
    g = torch.Generator().manual_seed(6)
    returns = torch.randn(16, 8, generator=g) * 2 + 1
    cases = {"a good critic": returns + 0.3 * torch.randn(16, 8, generator=g),
             "a poor critic": 0.5 * torch.randn(16, 8, generator=g),
             "a constant critic": torch.full((16, 8), 1.0)}
    for name, values in cases.items():
        got = fn(values, returns)
        if not isinstance(got, float):
            return False, f"return a plain Python float (float(...)): the metrics hold numbers, got {type(got).__name__}"
        want = losses.explained_variance(values, returns)
        if abs(got - want) > 1e-5:
            wrong = [(1 - float(values.var() / returns.var()), "compare the variance of the ERRORS "
                      "(returns - values) with the variance of the returns"),
                     (1 - float((returns - values).var() / values.var()), "divide by the variance of the "
                      "returns (what is to be explained), not of the values"),
                     (float((returns - values).var() / returns.var()), "that is the unexplained share: "
                      "explained variance is 1 minus it"),
                     (float(torch.corrcoef(torch.stack([values.flatten(), returns.flatten()]))[0, 1] ** 2)
                      if values.std() > 0 else float("nan"), "that is the squared correlation: explained "
                      "variance also punishes a critic that is off by a constant or a scale"),
                     ]
            return wrong_answer(got, wrong, f" (case: {name})",
                                 f"for {name} you gave {got:.4g}, the package's {want:.4g}")
    try:
        flat = fn(torch.randn(8), torch.full((8,), 3.0))
    except ZeroDivisionError:
        flat = None
    if not (isinstance(flat, float) and math.isnan(flat)):
        return False, (f"with constant returns (variance 0) you gave {flat!r}: nothing is there to "
                       f"explain, return float('nan')")
    return True, "matches explained_variance: 1 for a perfect critic, <= 0 for one no better than a constant"


explained_variance = Exercise("explained variance", _check_explained_variance, numbered_hints("""
    1. 1 - Var(returns - values) / Var(returns).
    2. Guard the case Var(returns) == 0 first; return float(...) of the tensor result."""),
    number=5, lesson=LESSON, cell="def my_explained_variance")

require_all = require_each(gae, policy_loss, value_loss, entropy, explained_variance)


# The runs of section 3 in the lesson: labels shown to the student -> what was broken.
BROKEN_RUNS = {"run A": "value loss off", "run B": "learning rate x10", "run C": "advantages not normalized"}
CAUSES = ("learning rate x10", "advantages not normalized", "value loss off")
EVIDENCE = {  # what each cause does to the logged numbers (shown for a wrong match)
    "learning rate x10": "a 10x learning rate makes the FIRST update (the same rollout for every run) move "
                         "the policy MORE: approx_kl above the healthy run's, clip_fraction several times it",
    "advantages not normalized": "raw (unnormalized) advantages move the policy LESS per update here: "
                                 "approx_kl far below the healthy run's, clip_fraction ~0, entropy stays near "
                                 "log(8)",
    "value loss off": "without the value loss the critic is never fitted: value_loss stays far above the "
                      "healthy run's",
}


def _check_match(answer):
    if not isinstance(answer, dict):
        return False, 'a dict {"run A": cause, "run B": cause, "run C": cause}'
    if set(answer) != set(BROKEN_RUNS):
        return False, f"name each run once: the keys are {', '.join(BROKEN_RUNS)}; you gave {sorted(answer)}"
    for run, cause in answer.items():
        if cause not in CAUSES:
            return False, f"{run}: {cause!r} is not one of the causes: {', '.join(CAUSES)}"
    if len(set(answer.values())) != len(CAUSES):
        return False, "each cause broke exactly one run: use each cause once"
    wrong = [run for run in BROKEN_RUNS if answer[run] != BROKEN_RUNS[run]]
    if wrong:
        run = wrong[0]
        return False, (f"{len(wrong)} of 3 are wrong. {run} is not '{answer[run]}': {EVIDENCE[answer[run]]}; "
                       f"is that what {run}'s row shows?")
    return True, "each broken run matched to its cause from its numbers alone"


def _match_parts(answer):
    """{run: matched to its cause} for partial credit."""
    if not isinstance(answer, dict):
        return {}
    return {run: answer.get(run) == cause for run, cause in BROKEN_RUNS.items()}


match = Exercise("match runs to causes", _check_match, numbered_hints("""
    1. Compare each broken run's row with the healthy run's, one column at a time.
    2. Which cause makes each update move the policy more? Less? Which one leaves the critic unfitted?
    3. approx_kl and clip_fraction measure how far an update moved the policy; value_loss how well the critic
       fits."""),
    number=6, lesson=LESSON, cell="MATCH =", parts=_match_parts)


# The silent bug: one of the trainer's parts has one subtle mistake.
def _value_loss_swapped(new_values, old_values, returns, value_clip=0.0):
    return losses.value_loss(new_values, returns, old_values, value_clip)  # two arguments swapped


def mystery_parts():
    """The parts of the mystery trainer: all the package's, one with a subtle
    bug. Each is wrapped, so comparing them with losses.PARTS by identity says nothing."""
    def wrapped(fn):
        part = functools.wraps(fn)(lambda *args, **kwargs: fn(*args, **kwargs))
        del part.__wrapped__
        return part
    return {name: wrapped(_value_loss_swapped if name == "value_loss" else fn) for name, fn in losses.PARTS.items()}


suspects = {  # the notebook lists them
    "gae: no bootstrap": "GAE treats the rollout's last step as an episode end (last_value unused)",
    "gae: not cut at episode ends": "GAE lets values and advantages flow across episode ends",
    "policy loss: max instead of min": "the clipped loss takes the larger of the two terms",
    "normalize: advantages not normalized": "the advantages reach the loss unnormalized",
    "value loss: wrong target": "the value loss fits the critic to something other than the returns",
    "entropy: wrong sign": "the entropy part returns minus the entropy",
}
SILENT_BUG = "value loss: wrong target"
SUSPECT_EVIDENCE = {
    "gae: no bootstrap": "a GAE bug gives the critic wrong returns, but the critic would still be fitted to "
                         "them, with an error like the healthy run's; is the mystery value_loss like the "
                         "healthy one? Feed the mystery gae and yours the same rollout",
    "gae: not cut at episode ends": "in target every episode ends at the last step of a rollout (256 ticks = 8 "
                                    "rollouts of 32), so a missing cut would change little here; and is the "
                                    "mystery value_loss like the healthy one?",
    "policy loss: max instead of min": "a max would make the updates reckless: approx_kl and clip_fraction far "
                                       "above the healthy run's; are they?",
    "normalize: advantages not normalized": "unnormalized advantages shrink the updates here: entropy would "
                                            "stay near log(8); does it?",
    "entropy: wrong sign": "an entropy part with the wrong sign would log a negative entropy; is it negative? "
                           "Call the mystery entropy on uniform logits",
}


def _check_diagnosis(answer):
    if answer not in suspects:
        return False, f"answer with one of the suspects' names: {', '.join(repr(s) for s in suspects)}"
    if answer != SILENT_BUG:
        return False, f"not '{answer}': {SUSPECT_EVIDENCE[answer]}"
    return True, ("the critic was fitted to its own old values: a value loss near 0 and a high explained "
                  "variance that mean nothing, and advantages from a critic that never learns")


diagnosis = Exercise("silent bug", _check_diagnosis, numbered_hints("""
    1. Which columns of the mystery run differ from the healthy run's, and in which direction? A number that
       looks too good is a clue too.
    2. A critic's error near 0 on returns it should find hard to predict: what is it being fitted to?
    3. Call each mystery part next to yours on the same random tensors (ex.mystery_parts()); the one that
       disagrees is the bug."""),
    number=7, lesson=LESSON, cell="DIAGNOSIS =")


def broken_settings():
    """Section 6's short runs: label -> train() keyword arguments. The labels
    hide the causes; BROKEN_RUNS names them (for the check)."""
    return {"healthy": {}, "run A": {"value_coef": 0.0}, "run B": {"learning_rate": 3e-2},
            "run C": {"parts": {"normalize": lambda x: x}}}


def max_differences(parts, seed=0):
    """{part: max |yours - package's|} on fresh random tensors: a rollout with
    episode ends inside it and at its last step, ratios outside the clip,
    value clipping on; the policy loss's gradient counts too."""
    gaps = {}
    args = _rollout(seed, steps=32, agents=16)
    gaps["gae"] = max((a - b).abs().max().item() for a, b in zip(parts["gae"](*args, 0.99, 0.95),
                                                                    losses.PARTS["gae"](*args, 0.99, 0.95)))
    new, old, adv = _loss_args(seed, n=512)
    mine, ref = parts["policy_loss"](new, old, adv, 0.2), losses.PARTS["policy_loss"](new, old, adv, 0.2)
    grads = [torch.autograd.grad(out[0], new)[0] for out in (mine, ref)]
    gaps["policy_loss"] = max([abs(float(torch.as_tensor(a).detach()) - float(torch.as_tensor(b).detach()))
                               for a, b in zip(mine, ref)]
                              + [(grads[0] - grads[1]).abs().max().item()])
    g = torch.Generator().manual_seed(seed)
    old_v, returns = torch.randn(512, generator=g), torch.randn(512, generator=g)
    new_v = old_v + torch.randn(512, generator=g) * 0.5
    gaps["value_loss"] = max(abs(parts["value_loss"](new_v, old_v, returns, clip).item()
                                 - losses.PARTS["value_loss"](new_v, old_v, returns, clip).item())
                             for clip in (0.0, 0.2))
    logits = torch.randn(512, 8, generator=g) * 3
    gaps["entropy"] = abs(parts["entropy"](logits).item() - losses.PARTS["entropy"](logits).item())
    values = returns + torch.randn(512, generator=g)
    gaps["explained_variance"] = abs(parts["explained_variance"](values, returns)
                                     - losses.PARTS["explained_variance"](values, returns))
    return gaps

