"""MkDocs hooks for the puffer_learn site (mkdocs.yml: `hooks:`).

- Lessons: every executed lesson in docs/lessons/*.ipynb (written by
  scripts/build_docs.py) becomes a page in a "Lessons" nav section, in file
  order, titled by the notebook's first heading. Dropping a lesson into
  lessons/ is all it takes. A lesson copy with an error output, or one older
  than its source in lessons/, fails the build.
- README sync: `<!-- readme: Start -->` in a page is replaced by the README's
  "## Start" section, so the install commands are never copied by hand.
- Gallery: `<!-- gallery -->` on the landing page is replaced by the agents
  in docs/generated/gallery.json (GIFs and numbers from scripts/build_docs.py).
"""
import hashlib
import html
import json
import logging
import re
from pathlib import Path

from mkdocs.exceptions import PluginError

log = logging.getLogger("mkdocs.hooks.puffer_learn")
ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
LESSON_COPIES = DOCS / "lessons"
LESSON_SOURCES = ROOT / "lessons"
GALLERY = DOCS / "generated" / "gallery.json"
MATHJAX = DOCS / "generated" / "mathjax" / "MathJax.js"
MATHJAX_QUERY = "?config=TeX-AMS_CHTML-full,Safe"
MATHJAX_CDN = "https://cdnjs.cloudflare.com/ajax/libs/mathjax/2.7.9/MathJax.js" + MATHJAX_QUERY


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def notebook_title(nb, fallback):
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown":
            match = re.search(r"^#\s+(.+)$", "".join(cell.get("source", "")), re.M)
            if match:
                return match.group(1).strip()
    return fallback


def error_outputs(nb):
    """(cell number, first line) for every error output a notebook holds."""
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


def check_lesson_copy(path):
    """Refuses a lesson copy that has errors, was not executed, or is stale."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    errors = error_outputs(nb)
    if errors:
        where = "; ".join(f"cell {k}: {line}" for k, line in errors[:5])
        raise PluginError(f"docs/lessons/{path.name} has error output ({where}). "
                          f"Fix the lesson; the site never publishes a page with an error.")
    stamp = nb.get("metadata", {}).get("puffer_learn_docs")
    if stamp is None:
        raise PluginError(f"docs/lessons/{path.name} was not executed by scripts/build_docs.py "
                          f"(no puffer_learn_docs stamp in its metadata)")
    source = LESSON_SOURCES / path.name
    if source.exists() and sha256(source) != stamp.get("source_sha256"):
        raise PluginError(f"docs/lessons/{path.name} is older than lessons/{path.name}: "
                          f"run `python scripts/build_docs.py` to execute it again")
    return notebook_title(nb, path.stem.replace("_", " "))


def lesson_pages():
    """[{title: "lessons/NN_topic.ipynb"}] for every executed lesson copy, in order."""
    pages = []
    for path in sorted(LESSON_COPIES.glob("*.ipynb")):
        pages.append({check_lesson_copy(path): f"lessons/{path.name}"})
    return pages


def on_config(config):
    # MathJax for notebook math: the copy scripts/build_docs.py put in the site
    # (lesson pages live at lessons/NAME/, two levels below the site root), else
    # a CDN. mkdocs-jupyter's own default is an empty URL: no math at all.
    jupyter = config["plugins"]["mkdocs-jupyter"].config
    if not jupyter["custom_mathjax_url"]:
        local = "../../generated/mathjax/MathJax.js" + MATHJAX_QUERY
        jupyter["custom_mathjax_url"] = local if MATHJAX.exists() else MATHJAX_CDN
    pages = lesson_pages()
    if pages:
        nav = config["nav"]
        at = next((i + 1 for i, item in enumerate(nav) if "Getting started" in item), len(nav))
        nav.insert(at, {"Lessons": pages})
    else:
        log.info("no executed lessons in docs/lessons/: the site has no Lessons section")
    return config


def readme_section(title):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(title)}\s*$(.*?)(?=^## |\Z)", text, re.M | re.S)
    if match is None:
        raise PluginError(f"README.md has no '## {title}' section (docs include it)")
    return match.group(1).strip()


def gallery_markdown():
    if not GALLERY.exists():
        return ('!!! note "No gallery in this build"\n'
                '    The trained agents are made by `python scripts/build_docs.py`.\n')
    entries = json.loads(GALLERY.read_text(encoding="utf-8"))
    cards = []
    for e in entries:
        ratio = "" if e.get("ratio") is None else f", scoring {e['ratio']:.2f}x the scripted baseline"
        cards.append(
            f'<div class="pl-agent" markdown="1">\n\n'
            f'<img src="{html.escape(e["gif"])}" alt="a trained {e["env"]} agent playing" '
            f'width="{e.get("width", 320)}">\n\n'
            f'**{e["env"]}**: trained in {e["train_s"]:.0f} s on {e["machine"]}{ratio}.\n\n'
            f'```bash\n{e["train_command"]}\n{e["eval_command"]}\n```\n\n'
            f'</div>\n')
    return '<div class="pl-gallery" markdown="1">\n\n' + "\n".join(cards) + '\n</div>\n'


def on_page_markdown(markdown, page, config, files):
    markdown = re.sub(r"<!-- readme: (.+?) -->", lambda m: readme_section(m.group(1)), markdown)
    if "<!-- gallery -->" in markdown:
        markdown = markdown.replace("<!-- gallery -->", gallery_markdown())
    return markdown
