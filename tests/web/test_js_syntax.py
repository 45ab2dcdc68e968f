"""Every module of the page parses (node's syntax check), so a slip shows here and not as a blank page."""

import shutil
import subprocess
from importlib import resources
from pathlib import Path

import pytest

WEB = Path(resources.files("torchground")) / "web"  # type: ignore[arg-type]
NODE = shutil.which("node")


@pytest.mark.skipif(NODE is None, reason="node is not installed")
@pytest.mark.parametrize("module", sorted(p.name for p in WEB.glob("*.js")))
def test_module_parses(module: str) -> None:
    source = (WEB / module).read_text(encoding="utf-8")
    done = subprocess.run([NODE, "--input-type=module", "--check"], input=source, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
