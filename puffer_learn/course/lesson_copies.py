"""Executed copies of the lessons for the docs site, in one place.

Three tools make or check them, all through this module:
  lessons/conftest.py      writes a copy when nbval has run a lesson without error
  scripts/build_docs.py    executes lessons whose copy is missing or stale
  scripts/docs_hooks.py    refuses a copy with an error, no stamp, or an old source

A copy is docs/lessons/NAME.ipynb: the executed lesson without live widget
views (they need a kernel; the widgets' static snapshots stay), stamped with
the sha256 of the lesson it was executed from.
"""
import hashlib
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the source checkout
LESSONS = ROOT / "lessons"
LESSON_COPIES = ROOT / "docs" / "lessons"
STAMP = "puffer_learn_docs"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

# MathJax for the lesson pages: nbconvert's lesson template speaks the MathJax 2 API.
MATHJAX_VERSION = "2.7.9"
MATHJAX_QUERY = "?config=TeX-AMS_CHTML-full,Safe"
MATHJAX_CDN = f"https://cdnjs.cloudflare.com/ajax/libs/mathjax/{MATHJAX_VERSION}/MathJax.js" + MATHJAX_QUERY


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def error_outputs(nb):
    """(cell index, one line) for every error output of a notebook: an
    exception, or a traceback printed to stderr. nb: a dict or NotebookNode."""
    found = []
    for k, cell in enumerate(nb.get("cells", [])):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                found.append((k, f"{out.get('ename')}: {out.get('evalue')}"))
            elif out.get("output_type") == "stream" and out.get("name") == "stderr":
                text = "".join(out.get("text", ""))
                if "Traceback (most recent call last)" in text:
                    found.append((k, text.strip().splitlines()[-1]))
    return found


def drop_live_widgets(nb):
    """Removes widget views and saved widget state (they need a kernel or a
    widget manager from a CDN); returns how many views were dropped."""
    nb.get("metadata", {}).pop("widgets", None)
    dropped = 0
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        kept = [out for out in cell.get("outputs", []) if WIDGET_VIEW not in out.get("data", {})]
        dropped += len(cell["outputs"]) - len(kept)
        cell["outputs"] = kept
    return dropped


def write_copy(nb, source, target=None, **stamp):
    """Writes executed notebook nb (from lesson `source`) as its docs copy,
    without live widgets and stamped with the source's hash. Returns how
    many widget views were dropped."""
    import nbformat
    target = Path(target) if target else LESSON_COPIES / Path(source).name
    dropped = drop_live_widgets(nb)
    nb["metadata"][STAMP] = {"source_sha256": sha256(source), **stamp}
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    return dropped


def read_copy(target):
    return json.loads(Path(target).read_text(encoding="utf-8"))


def is_current(source, target):
    """Whether target is a copy executed from source as it is now."""
    if not Path(target).exists():
        return False
    stamp = read_copy(target).get("metadata", {}).get(STAMP)
    return bool(stamp) and stamp.get("source_sha256") == sha256(source)


def copy_problem(target, sources=LESSONS):
    """Why a copy must not be published (an error output, no stamp, a changed
    source), or None if it may."""
    nb = read_copy(target)
    name = Path(target).name
    errors = error_outputs(nb)
    if errors:
        where = "; ".join(f"cell {k}: {line}" for k, line in errors[:5])
        return (f"docs/lessons/{name} has error output ({where}). "
                f"Fix the lesson; the site never publishes a page with an error.")
    stamp = nb.get("metadata", {}).get(STAMP)
    if stamp is None:
        return (f"docs/lessons/{name} was not executed by scripts/build_docs.py "
                f"(no {STAMP} stamp in its metadata)")
    source = Path(sources) / name
    if source.exists() and sha256(source) != stamp.get("source_sha256"):
        return (f"docs/lessons/{name} is older than lessons/{name}: "
                f"run `python scripts/build_docs.py` to execute it again")
    return None


def notebook_title(nb, fallback):
    """The notebook's first markdown heading."""
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown":
            match = re.search(r"^#\s+(.+)$", "".join(cell.get("source", "")), re.M)
            if match:
                return match.group(1).strip()
    return fallback
