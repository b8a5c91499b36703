"""RunComparison: learning curves of several configs x seeds, overlaid (mean
line, band from the worst to the best seed), plus the final table. It is what
lessons 2-4 use for their A/B experiments.

    cmp = RunComparison("asteroids", {"raw": {...}, "normalized": {...}}, seeds=[1, 2, 3],
                        total_timesteps=1_000_000)
    result = cmp.run()          # live while training; leaves a static image + table

The live view redraws as runs progress; when all runs end, the widget is
replaced by a static PNG and an HTML table in the output, so saved notebooks
and the docs site show the result without a kernel.
"""
import base64
import html
import time

import ipywidgets as w
from IPython.display import HTML, display

from puffer_learn.widgets.plots import comparison_png


class RunComparison:
    def __init__(self, env, variants, seeds=(1, 2, 3), title=None, redraw_every_s=1.0, **train_kwargs):
        self.env, self.variants, self.seeds = env, variants, list(seeds)
        self.train_kwargs = train_kwargs
        self.title = title or f"{env}: " + " vs ".join(variants)
        self.live = {label: {} for label in variants}  # label -> seed -> (steps, ratios)
        self.result = None
        self.redraw_every_s = redraw_every_s
        self._last_draw = 0.0
        self.status = w.HTML("")
        self.plot = w.Image(format="png", layout=w.Layout(width="560px"))
        self.widget = w.VBox([self.status, self.plot])

    def _curves(self):
        return {label: list(seeds.values()) for label, seeds in self.live.items()}

    def on_update(self, label, seed, metrics):
        steps, values = self.live[label].setdefault(seed, ([], []))
        if metrics.get("ratio") is not None:
            steps.append(metrics["global_step"])
            values.append(metrics["ratio"])
        now = time.monotonic()
        if now - self._last_draw >= self.redraw_every_s:  # few messages, see TrainingDashboard.update
            self.status.value = (f"training <b>{html.escape(label)}</b>, seed {seed}: "
                                 f"{metrics['global_step']:,} agent steps")
            self.plot.value = comparison_png(self._curves(), title=self.title)
            self._last_draw = now

    def run(self):
        """Runs every variant x seed; returns the experiments.Comparison."""
        from puffer_learn.course.experiments import compare

        display(self.widget)
        self.result = compare(self.env, self.variants, seeds=self.seeds, on_update=self.on_update,
                              **self.train_kwargs)
        self.widget.close()
        display(HTML(self.snapshot_html()))
        return self.result

    def snapshot_html(self):
        """Static picture + table of a finished comparison."""
        png = comparison_png(self.result.curves, title=self.title)
        image = f'<img alt="learning curves" src="data:image/png;base64,{base64.b64encode(png).decode()}"/>'
        return f'<div class="pl-run-comparison">{image}{self.result._repr_html_()}</div>'
