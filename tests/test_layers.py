"""The package's layers import only downward: cenv (C envs) < training <
export < course < cli < widgets (the notebook side, which also checks command
lines a student writes). A module that reaches up a layer (even inside
a function) is the start of a cycle, and a reader can no longer read the
layers bottom to top."""
import ast
from pathlib import Path

import puffer_learn

PACKAGE = Path(puffer_learn.__file__).parent
ROOT = PACKAGE.parent
LAYERS = ["envs", "cenv", "training", "export", "course", "cli", "widgets"]


def layer_of(module):
    """'puffer_learn.training.config' -> 'training'; None for outside modules."""
    parts = module.split(".")
    if parts[0] != "puffer_learn":
        return None
    if len(parts) == 1:
        return "training"  # puffer_learn.make/.train/.sweep: the short entries, from cenv and training
    return parts[1] if parts[1] in LAYERS else None


def imports_of(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def sources():
    for layer in ("cenv", "training", "export", "course"):
        yield layer, sorted((PACKAGE / layer).glob("*.py"))
    yield "cli", [PACKAGE / "cli.py"]
    yield "widgets", sorted((ROOT / "widgets").rglob("*.py"))


def test_every_import_points_down_or_sideways():
    upward = []
    for layer, paths in sources():
        for path in paths:
            for module in imports_of(path):
                target = layer_of(module)
                if target and LAYERS.index(target) > LAYERS.index(layer):
                    upward.append(f"{path.relative_to(ROOT)} ({layer}) imports {module} ({target})")
    assert not upward, "\n".join(upward)


def test_the_check_sees_an_upward_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from puffer_learn.training.trainer import train\n")
    assert [layer_of(m) for m in imports_of(bad)] == ["training", "training"]
    assert LAYERS.index("training") > LAYERS.index("cenv")
