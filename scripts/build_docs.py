"""Build the docs site: run the lessons, make the gallery, `mkdocs build --strict`.

    python scripts/build_docs.py              # everything, from scratch (CI)
    python scripts/build_docs.py --reuse      # keep current lesson copies and gallery agents
    python scripts/build_docs.py --no-gallery # skip the training (a quick local build)

1. Lessons: every lessons/*.ipynb is executed once, top to bottom, in a fresh
   kernel started in lessons/ (as nbval and `puffer-learn lab` do), and
   written to docs/lessons/ for mkdocs-jupyter. Any error output (an
   exception, or a traceback printed to stderr) fails the build: the site
   never publishes a lesson with an error. Live widgets need a kernel, so
   their views and saved state are dropped from the copy; the static
   snapshots the widgets leave (HTML, PNG, GIF outputs) stay.
2. Gallery: every packaged env with a train.toml is trained with its own
   tuned settings by `puffer-learn train ENV --seed 1`, then recorded by
   `puffer-learn eval ENV --checkpoint ... --gif ...`; the GIFs and numbers
   (wall time to train, ratio to the scripted baseline) go to docs/generated/.
3. Live agents: each gallery agent, and the agent each lesson in
   LESSON_AGENTS trains, is exported with `puffer-learn export --web`'s code
   (env + C policy compiled to WebAssembly by zig cc, puffer_learn/export/web.py)
   into docs/generated/web/; the pages play them live, GIF as the fallback.
   The wasm is cached by a hash of its sources, so a rebuild costs seconds
   (the very first one compiles wasi-libc into zig's cache, ~1 min).
4. `mkdocs build --strict` into site/.

docs/lessons/, docs/generated/ and build/ are generated (git ignores them).
The last stdout line is a JSON summary.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from puffer_learn.training.config import SOLVED_RATIO
from puffer_learn.course.lesson_copies import (LESSON_COPIES, LESSONS, MATHJAX_VERSION, ROOT, error_outputs,
                                        is_current, write_copy)

GENERATED = ROOT / "docs" / "generated"
WORK = ROOT / "build" / "docs"
SITE = ROOT / "site"
GALLERY_SEED = 1


def say(*parts):
    print(*parts, file=sys.stderr, flush=True)


# ---- 1. Lessons ---------------------------------------------------------------
def execute_lesson(source, target, timeout):
    """Runs one notebook into `target`; raises RuntimeError on any error output."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(source, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=False,
                            store_widget_state=False,
                            resources={"metadata": {"path": str(source.parent)}})
    start = time.perf_counter()
    try:
        client.execute()  # stops at the first cell that raises
    except CellExecutionError as e:
        raise RuntimeError(f"{source.name} raised an error, so it is not published:\n{e}") from None
    seconds = time.perf_counter() - start
    errors = error_outputs(nb)
    if errors:
        lines = "\n".join(f"  cell {k}: {line}" for k, line in errors)
        raise RuntimeError(f"{source.name} has error output, so it is not published:\n{lines}\n"
                           f"(to show an error on purpose, catch it and print its message: print(e))")
    dropped = write_copy(nb, source, target, executed_s=round(seconds, 1))
    return {"lesson": source.name, "executed_s": round(seconds, 1), "widget_views_dropped": dropped}


def build_lessons(reuse, timeout, lessons=LESSONS):
    sources = sorted(Path(lessons).glob("*.ipynb"))
    for old in LESSON_COPIES.glob("*.ipynb"):  # a lesson removed or renamed
        if not (Path(lessons) / old.name).exists():
            old.unlink()
    results = []
    for source in sources:
        target = LESSON_COPIES / source.name
        if reuse and is_current(source, target):
            say(f"lesson {source.name}: executed copy is current, reused")
            results.append({"lesson": source.name, "reused": True})
            continue
        say(f"lesson {source.name}: executing ...")
        results.append(execute_lesson(source, target, timeout))
        say(f"lesson {source.name}: {results[-1]['executed_s']} s")
    return results


# ---- 2. Gallery ----------------------------------------------------------------
def last_json(stdout, what):
    lines = [l for l in stdout.strip().splitlines() if l.startswith("{")]
    if not lines:
        raise RuntimeError(f"{what} printed no JSON line:\n{stdout[-2000:]}")
    return json.loads(lines[-1])


def run(cmd, what):
    say("$", " ".join(cmd))
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return last_json(result.stdout, what)


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        names = [l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return f"{os.cpu_count()} CPU cores ({cpu})"


def gallery_envs():
    """Packaged envs that ship tuned training settings (envs/ENV/train.toml).
    Continuous-action envs (target_continuous) are left out until the
    trainer and `puffer-learn eval` play continuous actions."""
    from puffer_learn.cenv.build import ENVS_DIR, build, packaged_envs
    return [e for e in packaged_envs() if (ENVS_DIR / e / "train.toml").is_file()
            and not build(e).module.lib.pl_actions_are_float()]


# Gallery runs a lesson already made with the very same command: lesson 0 runs
# `puffer-learn train target --seed 1` (train.toml's settings, seed 1). When
# nbval ran it in this session, the gallery takes that checkpoint instead of
# training the same agent a second time.
LESSON_RUNS = {"target": LESSONS / "runs" / f"target-{GALLERY_SEED}" / "model.pt"}


def reuse_lesson_run(env, checkpoint):
    """The train command's result for a finished lesson run of the gallery's own
    settings (copied to `checkpoint`), or None when there is none to reuse."""
    import shutil

    from puffer_learn.training.checkpoints import CheckpointError, load_checkpoint
    from puffer_learn.training.config import resolve_config

    source = LESSON_RUNS.get(env)
    if source is None or not source.is_file():
        return None
    try:
        data = load_checkpoint(source)
    except CheckpointError:
        return None
    wanted = resolve_config(env)
    if (data["seed"] != GALLERY_SEED or data["config"] != wanted
            or data["global_step"] < wanted["train"]["total_timesteps"]):
        return None  # not the gallery's command (other settings, or an unfinished run)
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, checkpoint)
    say(f"gallery {env}: the agent lesson 0 trained with the same command ({source.relative_to(ROOT)})")
    last = data["metrics"][-1]
    return {"checkpoint": str(checkpoint), "wall_s": last["elapsed_s"],
            "agent_steps_per_s": data["global_step"] / last["elapsed_s"]}


def gallery_entry(env, cli, gifs, reuse):
    """Trains and records one env's agent (or reuses its record)."""
    record = WORK / "gallery" / f"{env}.json"
    gif = gifs / f"{env}.gif"
    if reuse and record.exists() and gif.exists():
        say(f"gallery {env}: reused {record.relative_to(ROOT)}")
        return json.loads(record.read_text())
    out = WORK / "gallery" / "runs"
    trained = reuse_lesson_run(env, out / f"{env}-{GALLERY_SEED}" / "model.pt")
    if trained is None:
        trained = run(cli + ["train", env, "--seed", str(GALLERY_SEED), "--out", str(out), "--quiet"],
                      f"puffer-learn train {env}")
    evaluated = run(cli + ["eval", env, "--checkpoint", trained["checkpoint"], "--gif", str(gif)],
                    f"puffer-learn eval {env}")
    from PIL import Image
    with Image.open(gif) as image:
        width = image.width
    # The commands as a student types them (runs/ is the default --out).
    checkpoint = f"runs/{env}-{GALLERY_SEED}/model.pt"
    entry = {"env": env, "gif": f"generated/gallery/{env}.gif", "width": width,
             "train_command": f"puffer-learn train {env} --seed {GALLERY_SEED}",
             "eval_command": f"puffer-learn eval {env} --checkpoint {checkpoint} --gif {env}.gif",
             "train_s": trained["wall_s"], "agent_steps_per_s": trained.get("agent_steps_per_s"),
             "ratio": evaluated.get("ratio"), "score": evaluated.get("score"),
             "baseline_score": evaluated.get("baseline_score"), "machine": machine(),
             "concurrent": True}
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps(entry, indent=1))
    say(f"gallery {env}: trained in {entry['train_s']:.0f} s, ratio {entry['ratio']:.2f}")
    if entry["ratio"] is None or entry["ratio"] < SOLVED_RATIO:
        say(f"gallery {env}: WARNING not solved (ratio below {SOLVED_RATIO}): tune envs/{env}/train.toml")
    return entry


def build_gallery(reuse):
    exe = Path(sys.executable).parent / "puffer-learn"
    cli = [str(exe)] if exe.exists() else [sys.executable, "-m", "puffer_learn.cli"]
    gifs = GENERATED / "gallery"
    gifs.mkdir(parents=True, exist_ok=True)
    # Two trainings at a time: each is a separate process that keeps about one
    # core busy (the network is small), so on 2 cores the gallery takes about
    # half as long as one env after another (the "train_s" of each is then
    # measured beside another run, as the gallery page says).
    with ThreadPoolExecutor(max_workers=2) as pool:
        entries = list(pool.map(lambda env: gallery_entry(env, cli, gifs, reuse), gallery_envs()))
    (GENERATED / "gallery.json").write_text(json.dumps(entries, indent=1))
    return entries


# ---- 3. Live agents (WebAssembly) -----------------------------------------------
WEB = GENERATED / "web"
# The agent each lesson trains, as (env, checkpoint), both relative to lessons/
# (where the lesson ran). A lesson whose checkpoint is missing shows none.
LESSON_AGENTS = {
    "00_quickstart": ("target", "runs/target-1/model.pt"),
    "01_build_target": ("my_target/my_target.h", "runs/my_target-2/model.pt"),
    "05_c_inference": ("target", "runs/target-3/model.pt"),
    "07_memory_lstm": ("recall", "runs/lesson7/lstm-d7/recall-1/model.pt"),
}


def build_web(envs, lessons):
    """Exports the gallery's and the lessons' agents to docs/generated/web/
    and lists them in docs/generated/web.json for the docs hooks."""
    import shutil
    from puffer_learn.export.program import export
    from puffer_learn.export.web import WEB_DIR

    WEB.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(WEB_DIR / "player.js", WEB / "player.js")
    wanted = {f"gallery/{env}": (env, WORK / "gallery" / "runs" / f"{env}-{GALLERY_SEED}" / "model.pt")
              for env in envs}
    wanted.update({f"lessons/{stem}": (str(Path(lessons) / env) if env.endswith(".h") else env,
                                       Path(lessons) / checkpoint)
                   for stem, (env, checkpoint) in LESSON_AGENTS.items()})
    agents = {}
    for key, (env, checkpoint) in wanted.items():
        if not checkpoint.exists():
            say(f"web {key}: no {checkpoint}, so no live agent there")
            continue
        out = WEB / key
        result = export(env, checkpoint, out, web=True, native=False)
        (out / "index.html").unlink()  # the site's pages embed the player themselves
        (out / "player.js").unlink()
        name = Path(result["wasm"]).stem
        agents[key] = {"env": name, "wasm": f"generated/web/{key}/{name}.wasm",
                       "weights": f"generated/web/{key}/{Path(result['weights']).name}",
                       "wasm_bytes": result["wasm_bytes"]}
        say(f"web {key}: {result['wasm_bytes'] // 1024} KB of wasm")
    (GENERATED / "web.json").write_text(json.dumps(agents, indent=1))
    return agents


# ---- MathJax for the lesson pages, served from the site itself ---------------------
MATHJAX_FILES = ["MathJax.js", "config/TeX-AMS_CHTML-full.js", "config/Safe.js", "extensions/",
                 "jax/input/TeX/", "jax/output/CommonHTML/", "jax/element/", "localization/en/",
                 "fonts/HTML-CSS/TeX/woff/", "LICENSE"]


def vendor_mathjax():
    """Copies the MathJax files the lessons need into docs/generated/mathjax, from
    the npm package (`npm pack`). Without npm the pages fall back to a CDN copy
    (math then renders only online); the hook picks whichever exists."""
    import shutil
    import tarfile
    target = GENERATED / "mathjax"
    if (target / "MathJax.js").exists():
        return "reused"
    if shutil.which("npm") is None:
        say("mathjax: npm not found, lesson math will load MathJax from a CDN")
        return "cdn"
    WORK.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(["npm", "pack", f"mathjax@{MATHJAX_VERSION}", "--silent"],
                            cwd=WORK, capture_output=True, text=True)
    tgz = WORK / f"mathjax-{MATHJAX_VERSION}.tgz"
    if result.returncode != 0 or not tgz.exists():
        say(f"mathjax: npm pack failed, lesson math will load MathJax from a CDN\n{result.stderr[-500:]}")
        return "cdn"
    with tarfile.open(tgz) as tar:
        for member in tar.getmembers():
            name = member.name.removeprefix("package/")
            if member.isfile() and any(name == f or (f.endswith("/") and name.startswith(f))
                                       for f in MATHJAX_FILES):
                out = target / name
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(tar.extractfile(member).read())
    return "npm"


# ---- 4. mkdocs -----------------------------------------------------------------
def build_site():
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict"], cwd=ROOT, env=env)
    if result.returncode != 0:
        raise RuntimeError("mkdocs build --strict failed (see its output above)")
    return sorted(str(p.relative_to(SITE)) for p in SITE.rglob("index.html")
                  if p.parent.name not in ("search", "404"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reuse", action="store_true",
                        help="keep lesson copies that match their source and gallery agents already made")
    parser.add_argument("--no-gallery", action="store_true", help="skip training the gallery agents")
    parser.add_argument("--no-web", action="store_true",
                        help="no live agents (WebAssembly): the pages show the GIFs only")
    parser.add_argument("--no-site", action="store_true", help="stop before mkdocs build")
    parser.add_argument("--lessons", default=str(LESSONS), help="the lessons folder (default: lessons/)")
    parser.add_argument("--cell-timeout", type=int, default=900, help="seconds per lesson cell")
    args = parser.parse_args(argv)

    summary, start = {}, time.perf_counter()
    try:
        t = time.perf_counter()
        summary["lessons"] = build_lessons(args.reuse, args.cell_timeout, args.lessons)
        summary["lessons_s"] = round(time.perf_counter() - t, 1)
        if not args.no_gallery:
            t = time.perf_counter()
            summary["gallery"] = build_gallery(args.reuse)
            summary["gallery_s"] = round(time.perf_counter() - t, 1)
        if args.no_web:
            (GENERATED / "web.json").unlink(missing_ok=True)
        else:
            t = time.perf_counter()
            envs = gallery_envs() if not args.no_gallery else []
            summary["web"] = build_web(envs, args.lessons)
            summary["web_s"] = round(time.perf_counter() - t, 1)
        if not args.no_site:
            t = time.perf_counter()
            summary["mathjax"] = vendor_mathjax()
            pages = build_site()
            summary["pages"] = len(pages)
            summary["mkdocs_s"] = round(time.perf_counter() - t, 1)
    except RuntimeError as e:
        sys.exit(f"build_docs: {e}")
    summary["total_s"] = round(time.perf_counter() - start, 1)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
