"""Lesson 3, sorting vs entity encoders (03_sorting_vs_entity.ipynb): the
forward pass of an order-free entity encoder, and sorting objects nearest
first."""
import numpy as np
import torch

from puffer_learn.training.policies import EntityPolicy
from puffer_learn.widgets.exercises import Exercise
from puffer_learn.widgets.lessons.shared import numbered_hints

LESSON = "03_sorting_vs_entity.ipynb"


def _check_entity_forward(cls):
    """cls: a subclass of EntityPolicy with the student's forward(). Same
    weights as the package's EntityPolicy, so the outputs must match."""
    if not (isinstance(cls, type) and issubclass(cls, EntityPolicy)):
        return False, f"pass the class itself (MyEntityPolicy), got {cls!r}"
    # Two layouts, so sizes cannot be hard-coded: asteroids' own and a small one.
    for layout, hidden, entity_hidden in (((2, 16, 7), 64, 32), ((3, 5, 4), 16, 8)):
        self_size, n, f = layout
        obs_size = self_size + n * f
        torch.manual_seed(1)
        mine = cls(obs_size, 9, layout, hidden_size=hidden, layers=2, entity_hidden=entity_hidden)
        ref = EntityPolicy(obs_size, 9, layout, hidden_size=hidden, layers=2, entity_hidden=entity_hidden)
        ref.load_state_dict(mine.state_dict())
        with torch.no_grad():
            mine.actor.weight.normal_()  # a non-trivial head, so differences show
            ref.actor.weight.copy_(mine.actor.weight)
            obs = torch.randn(32, obs_size)
            try:
                logits, value, _ = mine(obs)
            except NotImplementedError:
                raise  # the untouched stub: "not attempted"
            except RuntimeError as error:
                return False, (f"layout {layout}: running your forward failed ({str(error).splitlines()[0]}): "
                               f"the body reads [batch, self_size + entity_hidden] = [32, "
                               f"{self_size + entity_hidden}]: the self features next to the pooled vector")
            want_logits, want_value, _ = ref(obs)
            if logits.shape != want_logits.shape or value.shape != want_value.shape:
                return False, (f"layout {layout}: logits {tuple(logits.shape)} and value {tuple(value.shape)}, "
                               f"expected {tuple(want_logits.shape)} and {tuple(want_value.shape)}")
            perm = torch.randperm(n)
            objects = obs[:, self_size:].reshape(-1, n, f)
            shuffled = torch.cat([obs[:, :self_size], objects[:, perm].reshape(len(obs), -1)], 1)
            if (mine(shuffled)[0] - logits).abs().max() > 1e-5:
                return False, (f"layout {layout}: shuffling the objects changed your logits: encode each "
                               f"object (reshape to [batch, {n}, {f}]) and pool over the objects axis")
            if (mine(obs[:1])[0] - logits[:1]).abs().max() > 1e-5:
                return False, f"layout {layout}: one observation alone gives other logits than in a batch: pool over objects, not over the batch"
            pooled = ref.entity(objects)
            mean_logits = ref.actor(ref.body(torch.cat([obs[:, :self_size], pooled.mean(1)], 1)))
            sum_logits = ref.actor(ref.body(torch.cat([obs[:, :self_size], pooled.sum(1)], 1)))
            if (logits - mean_logits).abs().max() < 1e-5 or (logits - sum_logits).abs().max() < 1e-5:
                return False, f"layout {layout}: order-free, but a mean or sum pool: this encoder keeps the max over objects"
            gap = (logits - want_logits).abs().max().item()
            if gap > 1e-5 or (value - want_value).abs().max() > 1e-5:
                return False, (f"layout {layout}: order-free, but your logits differ from the package's "
                               f"EntityPolicy by {gap:.3g} with the same weights: use self.entity on the "
                               f"objects, the max over objects, and the self features first in the concatenation")
    return True, "order-free, and the same outputs as the package's EntityPolicy on two layouts"


forward = Exercise("entity encoder forward", _check_entity_forward, numbered_hints("""
    1. The objects are obs[:, self_size:]; view them as [batch, num_entities, entity_size].
    2. self.entity runs on the last axis, so it encodes every object with the same weights; then take the max
       over the objects axis (dim=1).
    3. torch.cat the self features (obs[:, :self_size]) and the pooled vector along dim=1, run self.body on
       that, and the heads on its output."""),
    number=1, lesson=LESSON, cell="class MyEntityPolicy")


def _check_nearest_first(fn):
    rng = np.random.default_rng(3)
    for n in (1, 4, 16):
        offsets = rng.uniform(-1, 1, (n, 2)).astype(np.float32)
        want = np.argsort(np.hypot(offsets[:, 0], offsets[:, 1]), kind="stable")
        got = np.asarray(fn(offsets))
        if got.shape == (n,) and not np.issubdtype(got.dtype, np.integer):
            return False, (f"you returned {got.dtype} values: return the objects' indices (ints) in "
                           f"nearest-first order, not the distances")
        if got.shape != (n,) or not np.array_equal(got, want):
            return False, f"for {n} objects the order {got.tolist()} is not nearest first"
    return True, "slot 0 is now always the nearest object"


nearest_first = Exercise("nearest first", _check_nearest_first, numbered_hints("""
    1. Compute each object's distance from its (dx, dy) offset.
    2. np.argsort gives the indices that would sort an array.
    3. np.hypot gives the distances; argsort them with kind='stable' so ties keep their order."""),
    number=2, lesson=LESSON, cell="def nearest_first")
