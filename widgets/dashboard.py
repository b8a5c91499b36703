"""TrainingDashboard: watch a training run live in a notebook.

    dash = TrainingDashboard()
    run = dash.train("target", seed=1)                    # blocks; live updates
    dash = TrainingDashboard(); dash.train("target", background=True)  # kernel stays free

It draws the metrics dicts the trainer passes to its callback (see
puffer_learn/training/trainer.py for every key): the learning curve as a ratio to the
env's scripted baseline, agent-steps/s, where wall time goes, losses on
demand, progress with an ETA, and a Stop button. When the run ends the live
widget is replaced by a static snapshot (HTML with the final picture), so a
saved notebook, nbval and the docs site show the result without a kernel.
"""
import base64
import html
import threading
import time

import ipywidgets as w
from IPython.display import HTML, display

from puffer_learn.widgets.plots import learning_curve_png, losses_png

ENV_SHARE_NOTE = 0.05  # a fast C env takes a few percent of wall time


def png_img(png, alt):
    return f'<img alt="{alt}" src="data:image/png;base64,{base64.b64encode(png).decode()}"/>'


def time_split_html(m):
    """A bar split into env / forward / learn shares of wall time."""
    parts = [("env", m.get("time_env", 0), "#e6a100"), ("forward", m.get("time_forward", 0), "#58c"),
             ("learn", m.get("time_learn", 0), "#0bb")]
    other = max(0.0, 1.0 - sum(p[1] for p in parts))
    bar = "".join(f'<div title="{name} {share:.0%}" style="width:{share * 100:.1f}%;'
                  f'background:{color};height:14px"></div>' for name, share, color in parts)
    bar += f'<div style="width:{other * 100:.1f}%;background:#ddd;height:14px"></div>'
    legend = " · ".join(f'<span style="color:{c}">■</span> {n} {s:.0%}' for n, s, c in parts)
    note = ""
    if m.get("time_env", 0) > ENV_SHARE_NOTE:
        note = (f'<div class="pl-note">The env takes {m["time_env"]:.0%} of wall time; a fast C env '
                f'takes a few percent. Above that, the env is the bottleneck: profile it.</div>')
    return (f'<div style="display:flex;width:360px;border:1px solid #aaa">{bar}</div>'
            f'<div style="font-size:12px">{legend}</div>{note}')


def stats_html(m):
    def fmt(key, spec, missing="–"):
        value = m.get(key)
        return missing if value is None else format(value, spec)
    rows = [("agent steps", f'{m.get("global_step", 0):,}'),
            ("agent-steps/s", fmt("agent_steps_per_s", ",.0f")),
            ("score", fmt("score", ".3f")), ("baseline score", fmt("baseline_score", ".3f")),
            ("ratio to baseline", fmt("ratio", ".2f")), ("elapsed", fmt("elapsed_s", ".1f") + " s")]
    cells = "".join(f'<tr><td>{k}</td><td class="pl-{k.replace(" ", "-").replace("/", "")}" '
                    f'style="text-align:right;font-family:monospace">{v}</td></tr>' for k, v in rows)
    return f'<table class="pl-stats">{cells}</table>'


def eta_seconds(m):
    """Seconds left: by steps, or by the time limit when that comes first."""
    elapsed, step, total = m.get("elapsed_s", 0), m.get("global_step", 0), m.get("total_timesteps")
    left = []
    if total and step:
        left.append(elapsed / step * max(total - step, 0))
    if m.get("time_limit_s"):
        left.append(max(m["time_limit_s"] - elapsed, 0))
    return min(left) if left else None


def progress_fraction(m):
    fractions = []
    if m.get("total_timesteps"):
        fractions.append(m.get("global_step", 0) / m["total_timesteps"])
    if m.get("time_limit_s"):
        fractions.append(m.get("elapsed_s", 0) / m["time_limit_s"])
    return min(1.0, max(fractions)) if fractions else 0.0


class TrainingDashboard:
    def __init__(self, title="", redraw_every_s=0.5):
        self.title = title
        self.history = []
        self.run = None
        self.error = None
        self.stop_event = threading.Event()
        self.redraw_every_s = redraw_every_s
        self._last_draw = 0.0
        self.header = w.HTML(f"<b>{html.escape(title)}</b> waiting for the first update…")
        self.progress = w.FloatProgress(value=0, min=0, max=1, description="progress")
        self.eta = w.Label("")
        self.stats = w.HTML(stats_html({}))
        self.split = w.HTML(time_split_html({}))
        self.curve = w.Image(format="png", layout=w.Layout(width="512px"))
        self.show_losses = w.ToggleButton(description="show losses", value=False)
        self.losses = w.Image(format="png", layout=w.Layout(width="512px", display="none"))
        self.stop_button = w.Button(description="Stop", button_style="danger", icon="stop")
        self.stop_button.on_click(lambda _: self.stop())
        self.show_losses.observe(self._toggle_losses, names="value")
        self.widget = w.VBox([
            self.header,
            w.HBox([self.progress, self.eta, self.stop_button, self.show_losses]),
            w.HBox([self.curve, w.VBox([self.stats, self.split])]),
            self.losses,
        ])

    def _ipython_display_(self):
        display(self.widget)

    def stop(self):
        """Asks the run to stop after the current update (a checkpoint is kept)."""
        self.stop_event.set()
        self.stop_button.disabled = True
        self.stop_button.description = "stopping…"

    def _toggle_losses(self, change):
        self.losses.layout.display = None if change["new"] else "none"
        if change["new"] and self.history:
            self.losses.value = losses_png(self.history)

    def update(self, metrics):
        """The trainer's callback: takes one metrics dict per update.

        The view refreshes at most every redraw_every_s seconds: each widget
        change is a message to the browser, and a fast run makes hundreds of
        updates (a flood the notebook's message channel may drop)."""
        self.history.append(dict(metrics))
        now = time.monotonic()
        if now - self._last_draw >= self.redraw_every_s:
            self._draw()
            self._last_draw = now

    def _draw(self):
        if not self.history:
            return
        m = self.history[-1]
        self.header.value = (f"<b>{html.escape(self.title)}</b> update {m.get('update', len(self.history))}"
                             f" · {m.get('global_step', 0):,} agent steps")
        self.progress.value = progress_fraction(m)
        eta = eta_seconds(m)
        self.eta.value = "" if eta is None else f"ETA {eta:.0f} s"
        self.stats.value = stats_html(m)
        self.split.value = time_split_html(m)
        self.curve.value = learning_curve_png(self.history, self.title)
        if self.show_losses.value:
            self.losses.value = losses_png(self.history)

    def snapshot_html(self):
        """The final picture as self-contained HTML (no kernel or JS needed)."""
        if not self.history:
            return "<p>No training updates were recorded.</p>"
        m = self.history[-1]
        status = "stopped early" if self.stop_event.is_set() else "finished"
        if self.error is not None:
            status = f"failed: {html.escape(str(self.error))}"
        parts = [f'<div class="pl-dashboard-snapshot"><b>{html.escape(self.title)}</b> {status} after '
                 f'{m.get("global_step", 0):,} agent steps in {m.get("elapsed_s", 0):.1f} s',
                 '<div style="display:flex;gap:16px;align-items:flex-start">',
                 png_img(learning_curve_png(self.history, self.title), "learning curve"),
                 f"<div>{stats_html(m)}{time_split_html(m)}</div></div>",
                 png_img(losses_png(self.history), "losses"), "</div>"]
        return "".join(parts)

    def finish(self, replace_live=True):
        """Ends the live view: draws the last state and leaves the snapshot."""
        self._draw()
        self.stop_button.disabled = True
        if replace_live:
            self.widget.children = [w.HTML(self.snapshot_html())]

    def train(self, env, background=False, **train_kwargs):
        """Trains with puffer_learn.train while showing this dashboard.

        background=False blocks the cell (interrupt the kernel to stop; the
        checkpoint is kept) and leaves the snapshot as a plain HTML output.
        background=True trains in a thread: the kernel stays free, the Stop
        button works, and `self.run` holds the result when `self.done()`. It
        returns None, so the cell does not show the dashboard a second time.
        """
        import puffer_learn

        self.title = self.title or f"{env} · seed {train_kwargs.get('seed', 0)}"
        display(self.widget)
        kwargs = dict(train_kwargs, callback=self._chain(train_kwargs.get("callback")),
                      stop=self.stop_event)

        def work():
            try:
                self.run = puffer_learn.train(env, **kwargs)
            except Exception as error:  # shown in the widget, then re-raised in the thread
                self.error = error
                raise
            finally:
                self.finish(replace_live=background)

        if background:
            self._thread = threading.Thread(target=work, daemon=True)
            self._thread.start()
            return None
        work()
        self.widget.close()  # the live widget goes; the static snapshot stays
        display(HTML(self.snapshot_html()))
        return self.run

    def _chain(self, user_callback):
        if user_callback is None:
            return self.update

        def both(metrics):
            self.update(metrics)
            return user_callback(metrics)
        return both

    def done(self):
        return not getattr(self, "_thread", None) or not self._thread.is_alive()

    def wait(self, timeout=None):
        """Blocks until a background run ends; returns its result."""
        if getattr(self, "_thread", None):
            self._thread.join(timeout)
        return self.run
