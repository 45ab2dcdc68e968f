"""An unusable TORCHGROUND_CACHE is not passed over in silence: one notice names the folder used instead and why."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from torchground.engine.kernels.build_cache import private_cache
from torchground.i18n import set_language


def test_a_file_as_cache_gives_a_notice_naming_the_fallback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    set_language("en")
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    monkeypatch.setenv("TORCHGROUND_CACHE", str(not_a_folder))
    with pytest.warns(RuntimeWarning) as caught:
        used = private_cache()
    message = str(caught[0].message)
    assert f"TORCHGROUND_CACHE={not_a_folder} cannot be used (it is not a folder)" in message
    assert str(used) in message and used != not_a_folder


def test_a_usable_cache_gives_no_notice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCHGROUND_CACHE", str(tmp_path / "cache"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert private_cache() == tmp_path / "cache"
