"""Tests for torchground.data.tfpg_random: seedrandom 2.4's key folding, ARC4 and doubles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from torchground.data.tfpg_random import Arc4, PlaygroundRandom, fresh_seed, seed_key

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tfpg"


@pytest.mark.parametrize(
    "key, stream",
    [(b"Key", "eb9f7781b734ca72a719"), (b"Wiki", "6044db6d41b7"), (b"Secret", "04d46b053ca87b59")],
)
def test_arc4_matches_rc4_published_vectors(key: bytes, stream: str) -> None:
    n = len(stream) // 2
    assert Arc4(key).next_bytes(n).to_bytes(n, "big").hex() == stream


def test_short_ascii_seed_is_its_own_key() -> None:
    assert seed_key("0.80000") == [ord(c) for c in "0.80000"]


def test_long_seed_folds_with_smear() -> None:
    # The 257th unit lands in slot 0 again: smear = key[0] * 19 (0 before), key[0] = smear + code.
    seed = "a" * 256 + "b"
    key = seed_key(seed)
    assert len(key) == 256
    assert key[0] == (97 * 19 + 98) & 255
    assert key[1:] == [97] * 255


def test_non_bmp_characters_count_as_two_utf16_units() -> None:
    assert len(seed_key("\U0001F600")) == 2
    assert seed_key("é") == [0xE9]


def test_empty_seed_uses_key_zero() -> None:
    a, b = PlaygroundRandom(""), PlaygroundRandom("\x00")
    assert [a.random() for _ in range(5)] == [b.random() for _ in range(5)]


def test_doubles_in_unit_interval_and_deterministic() -> None:
    a, b = PlaygroundRandom("0.13579"), PlaygroundRandom("0.13579")
    values = [a.random() for _ in range(2000)]
    assert values == [b.random() for _ in range(2000)]
    assert all(0.0 <= v < 1.0 for v in values)
    assert 0.45 < sum(values) / len(values) < 0.55
    assert len(set(values)) == len(values)
    assert a.draws == 2000


def test_first_weights_of_reference_follow_the_data_draws() -> None:
    """The reference's first initial weight is the stream's value after the data: check
    by counting draws (500 circle points x 4 draws, then 500 for the shuffle)."""
    ref = json.loads((FIXTURES / "default-circle.json").read_text())
    rng = PlaygroundRandom("0.80000")
    for _ in range(500 * 4 + 500):
        rng.random()
    assert rng.random() - 0.5 == ref["init"][0]["weight"][0][0]


def test_fresh_seed_has_five_decimals() -> None:
    seed = fresh_seed()
    assert len(seed) == 7 and seed[1] == "." and seed.replace(".", "").isdigit()
    assert len({fresh_seed() for _ in range(20)}) > 1
