"""EnvViewer: play an episode of any env with a chosen policy, in a notebook.

    EnvViewer("target", {"scripted": "scripted", "random": "random"}, seed=3)
    EnvViewer("target", {"trained": "runs/target-1/model.pt"})

A policy is "scripted" (the env's baseline), "random", a checkpoint path, a
policy module, or a function obs -> actions.

Each policy plays the same seeded episode in its own copy of the env; the
frames are recorded first (headless), then shown with play / pause / step and
a speed slider, side by side when there are several policies. The static
fallback, left in the cell output for saved notebooks and the docs site, is
an animated GIF of the same frames.
"""
import base64
import io
from pathlib import Path

import ipywidgets as w
import numpy as np
from IPython.display import HTML, display
from PIL import Image


def frame_png(frame):
    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, format="PNG", optimize=False, compress_level=1)
    return buffer.getvalue()


def side_by_side(frame_lists, gap=6):
    """One list of frames from several equally long lists, placed left to right."""
    length = max(len(f) for f in frame_lists)
    padded = [f + [f[-1]] * (length - len(f)) for f in frame_lists]  # hold the last frame
    out = []
    for frames in zip(*padded):
        height = max(f.shape[0] for f in frames)
        spacer = np.full((height, gap, 3), 255, np.uint8)
        row = []
        for f in frames:
            row += [np.pad(f, ((0, height - f.shape[0]), (0, 0), (0, 0))), spacer]
        out.append(np.concatenate(row[:-1], axis=1))
    return out


class EnvViewer:
    def __init__(self, env, policies=None, seed=0, max_steps=None, substeps=1, fps=30,
                 show=True, **env_config):
        import puffer_learn
        from puffer_learn.cenv.render import record_episode
        from puffer_learn.training.distributions import distribution_for
        from puffer_learn.training.evaluation import policy_fn

        policies = policies or {"scripted": "scripted"}
        self.labels = list(policies)
        self.frames = {}
        self.scores = {}
        for label, policy in policies.items():
            vec = puffer_learn.make(env, num_envs=1, seed=seed, **env_config)
            is_path = isinstance(policy, (str, Path)) and policy not in ("scripted", "random")
            if is_path or hasattr(policy, "parameters"):  # a checkpoint or a torch policy
                policy = policy_fn(policy, seed=seed, dist=distribution_for(vec))
            self.frames[label] = record_episode(vec, policy, max_steps=max_steps, substeps=substeps)
            self.scores[label] = vec.log().get("score")
            vec.close()
        self.fps = fps
        self.length = max(len(f) for f in self.frames.values())
        self._png = {label: [frame_png(f) for f in frames] for label, frames in self.frames.items()}

        self.play = w.Play(value=0, min=0, max=self.length - 1, interval=int(1000 / fps))
        self.slider = w.IntSlider(value=0, min=0, max=self.length - 1, description="frame")
        w.jslink((self.play, "value"), (self.slider, "value"))
        self.back = w.Button(icon="step-backward", layout=w.Layout(width="40px"), tooltip="previous frame")
        self.forward = w.Button(icon="step-forward", layout=w.Layout(width="40px"), tooltip="next frame")
        self.back.on_click(lambda _: self.step(-1))
        self.forward.on_click(lambda _: self.step(+1))
        self.speed = w.FloatLogSlider(value=1.0, base=2, min=-2, max=2, description="speed")
        self.speed.observe(lambda c: setattr(self.play, "interval", int(1000 / (fps * c["new"]))),
                           names="value")
        self.images = {label: w.Image(value=self._png[label][0], format="png") for label in self.labels}
        self.slider.observe(lambda c: self.show_frame(c["new"]), names="value")
        panels = [w.VBox([w.HTML(f"<b>{label}</b>{self._score_text(label)}"), self.images[label]])
                  for label in self.labels]
        self.widget = w.VBox([w.HBox(panels), w.HBox([self.play, self.back, self.forward,
                                                      self.slider, self.speed])])
        if show:
            display(self.widget)
            display(HTML(self.gif_html()))

    def _score_text(self, label):
        score = self.scores.get(label)
        return "" if score is None else f" · score {score:.2f}"

    def show_frame(self, index):
        index = int(np.clip(index, 0, self.length - 1))
        for label in self.labels:
            pngs = self._png[label]
            self.images[label].value = pngs[min(index, len(pngs) - 1)]
        return index

    def step(self, delta):
        """Moves `delta` frames (the step buttons)."""
        self.slider.value = int(np.clip(self.slider.value + delta, 0, self.length - 1))

    def gif_bytes(self, every=1):
        from puffer_learn.cenv.render import save_gif

        frames = side_by_side([self.frames[label] for label in self.labels])[::every]
        buffer = io.BytesIO()
        save_gif(frames, buffer, fps=self.fps / every)
        return buffer.getvalue()

    def gif_html(self, every=2):
        """The static fallback: an animated GIF of the episode(s)."""
        title = " | ".join(f"{label}{self._score_text(label)}" for label in self.labels)
        data = base64.b64encode(self.gif_bytes(every)).decode()
        return (f'<div class="pl-viewer-gif"><div>{title}</div>'
                f'<img alt="episode" src="data:image/gif;base64,{data}"/></div>')
