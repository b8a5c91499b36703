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
- Live agents: where docs/generated/web.json (scripts/build_docs.py) lists an
  agent compiled to WebAssembly, the gallery card plays it live in the page
  (envs/web/player.js), and each lesson page shows the agent it trains; the
  GIF stays as the fallback where WebAssembly is unavailable.
"""
import html
import json
import logging
import re

from mkdocs.exceptions import PluginError

from puffer_learn.course.lesson_copies import (LESSON_COPIES, MATHJAX_CDN, MATHJAX_QUERY, ROOT, copy_problem,
                                        notebook_title, read_copy)

log = logging.getLogger("mkdocs.hooks.puffer_learn")
DOCS = ROOT / "docs"
GALLERY = DOCS / "generated" / "gallery.json"
MATHJAX = DOCS / "generated" / "mathjax" / "MathJax.js"
WEB_AGENTS = DOCS / "generated" / "web.json"


def check_lesson_copy(path):
    """Refuses a lesson copy that has errors, was not executed, or is stale."""
    problem = copy_problem(path)
    if problem:
        raise PluginError(problem)
    return notebook_title(read_copy(path), path.stem.replace("_", " "))


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


def web_agents():
    """{"gallery/ENV" or "lessons/STEM": {env, wasm, weights}} built for this site."""
    if not WEB_AGENTS.exists():
        return {}
    return json.loads(WEB_AGENTS.read_text(encoding="utf-8"))


def live_agent(agent, prefix, fallback, seed=1):
    """A player element: envs/web/player.js swaps the fallback for a live canvas.
    prefix leads from the page to the site root."""
    return (f'<div class="pl-live" data-env="{html.escape(agent["env"])}" '
            f'data-wasm="{prefix}{html.escape(agent["wasm"])}" '
            f'data-weights="{prefix}{html.escape(agent["weights"])}" data-seed="{seed}">\n'
            f'{fallback}\n</div>\n')


def player_script(prefix):
    return f'<script src="{prefix}generated/web/player.js" defer></script>\n'


def gallery_markdown():
    if not GALLERY.exists():
        return ('!!! note "No gallery in this build"\n'
                '    The trained agents are made by `python scripts/build_docs.py`.\n')
    entries = json.loads(GALLERY.read_text(encoding="utf-8"))
    agents = web_agents()
    cards = []
    for e in entries:
        ratio = "" if e.get("ratio") is None else f", scoring {e['ratio']:.2f}x the scripted baseline"
        gif = (f'<img src="{html.escape(e["gif"])}" alt="a trained {e["env"]} agent playing" '
               f'width="{e.get("width", 320)}">')
        live = agents.get(f"gallery/{e['env']}")
        picture = live_agent(live, "", gif) if live else gif + "\n"
        cards.append(
            f'<div class="pl-agent" markdown="1">\n\n'
            f'{picture}\n'
            f'**{e["env"]}**: trained in {e["train_s"]:.0f} s on {e["machine"]}'
            f'{" (beside another gallery run)" if e.get("concurrent") else ""}{ratio}.\n\n'
            f'```bash\n{e["train_command"]}\n{e["eval_command"]}\n```\n\n'
            f'</div>\n')
    script = player_script("") if agents else ""
    return '<div class="pl-gallery" markdown="1">\n\n' + "\n".join(cards) + '\n</div>\n' + script


def on_page_markdown(markdown, page, config, files):
    markdown = re.sub(r"<!-- readme: (.+?) -->", lambda m: readme_section(m.group(1)), markdown)
    if "<!-- gallery -->" in markdown:
        markdown = markdown.replace("<!-- gallery -->", gallery_markdown())
    return markdown


def on_page_content(content, page, config, files):
    """A lesson page opens with the agent it trains, playing live."""
    src = page.file.src_uri
    if not (src.startswith("lessons/") and src.endswith(".ipynb")):
        return content
    agent = web_agents().get("lessons/" + src[len("lessons/"):-len(".ipynb")])
    if not agent:
        return content
    prefix = "../../"  # lesson pages live at lessons/NAME/
    box = ('<div class="pl-lesson-agent"><p><strong>The agent this lesson trains, playing live</strong> '
           '(its env and C policy compiled to WebAssembly by <code>puffer-learn export --web</code>):</p>\n'
           + live_agent(agent, prefix, '<p class="pl-status">This browser cannot run WebAssembly.</p>')
           + player_script(prefix) + '</div>\n')
    # After the page's title, else at the top.
    match = re.search(r"</h1>", content)
    at = match.end() if match else 0
    return content[:at] + box + content[at:]
