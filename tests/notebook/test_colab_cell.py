"""The README's Colab cell installs what the widget imports and leaves Colab's own Jupyter
packages alone (no ``notebook`` extra: it would replace Colab's notebook and ipykernel)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_INIT = ROOT / "src" / "torchground" / "notebook" / "__init__.py"


@pytest.mark.parametrize("readme", ["README.md", "README.ja.md"])
def test_the_colab_cell_installs_what_the_widget_imports(readme: str) -> None:
    text = (ROOT / readme).read_text(encoding="utf-8")
    (line,) = re.findall(r"^!pip install (.+)$", text, flags=re.MULTILINE)
    packages = {word for word in line.split() if not word.startswith("-")}
    assert "torchground" in packages and not any("[" in p for p in packages)  # no extra, so Colab keeps its Jupyter
    tree = ast.parse(NOTEBOOK_INIT.read_text(encoding="utf-8"))
    guarded = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Try)
               for inner in node.body if isinstance(inner, ast.Import) for alias in inner.names}
    assert guarded and guarded <= packages, f"the widget imports {sorted(guarded)}; the Colab cell installs {sorted(packages)}"
    after = text[text.index(line):]
    assert "import torchground as tg" in after.split("```")[0] and "tg.Playground(" in after.split("```")[0]
