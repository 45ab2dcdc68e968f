"""What every browser test uses: Debian's Chromium (never a downloaded browser), its flags, and
the folder screenshots are kept in as test artefacts (``$TG_ARTIFACTS``, default test-artifacts/)."""

import os
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
ARTIFACTS = Path(os.environ.get("TG_ARTIFACTS", Path(__file__).resolve().parents[1] / "test-artifacts")) / "screenshots"
