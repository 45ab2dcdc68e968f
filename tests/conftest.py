"""Shared fixtures: messages in English unless a test asks otherwise, fixed seeds."""

import pytest

from torchground.i18n import set_language


@pytest.fixture(autouse=True)
def english_messages():
    set_language("en")
    yield
    set_language(None)
