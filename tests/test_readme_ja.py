"""README.ja.md keeps step with README.md: the same sections, commands and figures, linked both ways.

Other engineers add README sections; this test fails until the Japanese README has their
counterpart (same heading levels in the same order, the same command lines in its code
blocks, the same figures).
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
README_JA = ROOT / "README.ja.md"

_FENCE = re.compile(r"^```([\w-]*)\n(.*?)^```", flags=re.S | re.M)


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _heading_levels(text: str) -> list[int]:
    prose = _FENCE.sub("", text)
    return [len(m.group(1)) for m in re.finditer(r"^(#{1,6}) ", prose, flags=re.M)]


def _command_lines(text: str) -> list[tuple[str, str]]:
    """Each code block's command lines, comments cut: what a reader types is the same in both.

    Blocks of a terminal session (``console``, or lines starting with ``$``): the ``$``
    lines (their output may be in the reader's language); other blocks: every line, with a
    trailing ``# comment`` cut (a comment is prose).
    """
    out = []
    for lang, body in _FENCE.findall(text):
        session = lang == "console" or any(line.startswith("$ ") for line in body.splitlines())
        for line in body.splitlines():
            if session and not line.startswith("$ "):
                continue
            code = re.split(r"\s#\s|^#\s|^#$", line)[0].rstrip()
            if code:
                out.append((lang, code))
    return out


def _figures(text: str) -> set[str]:
    """Measured and quoted numbers outside code blocks: decimals, ranges, a·10ⁿ, 3+ digits."""
    prose = _FENCE.sub("", text)
    prose = re.sub(r"\(https?://[^)]*\)", "", prose).replace("〜", "–")  # a Japanese range is a range
    found = re.findall(r"(?<![\w.])\d+(?:[ .]\d+)*(?:·10[⁰¹²³⁴⁵⁶⁷⁸⁹]+)?(?:–\d+(?:[ .]\d+)*)?", prose)
    return {f for f in found if re.search(r"[.·–]|\d{3}", f)}


def test_each_readme_links_to_the_other_in_its_first_lines() -> None:
    assert "(README.ja.md)" in "\n".join(_text(README).splitlines()[:5])
    assert "(README.md)" in "\n".join(_text(README_JA).splitlines()[:5])


def test_same_headings_at_each_level() -> None:
    assert _heading_levels(_text(README_JA)) == _heading_levels(_text(README))


def test_same_commands_in_code_blocks() -> None:
    assert _command_lines(_text(README_JA)) == _command_lines(_text(README))


def test_same_figures() -> None:
    # every number of the English README appears in the Japanese one (and no other)
    assert _figures(_text(README_JA)) == _figures(_text(README))


def test_japanese_readme_is_japanese() -> None:
    prose = _FENCE.sub("", _text(README_JA))
    prose = re.sub(r"`[^`]*`", "", prose)
    paragraphs = [p for p in prose.split("\n\n") if len(p) > 200 and not p.lstrip().startswith("|")]
    assert paragraphs
    for paragraph in paragraphs:
        japanese = sum(1 for ch in paragraph if 0x3040 <= ord(ch) <= 0x9FFF)
        assert japanese > len(paragraph) / 4, paragraph[:80]
