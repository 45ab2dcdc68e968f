"""TensorFlow Playground's random stream: seedrandom 2.4 (ARC4) reproduced in Python.

TensorFlow Playground seeds ``Math.random`` with ``Math.seedrandom(seed)`` (the
seedrandom library, version 2.4) using the ``seed`` string of its link, then draws its
data, its shuffle and its initial weights from that one stream. This module gives the
same numbers without any JavaScript: :class:`PlaygroundRandom` turns a seed string into
the identical sequence of doubles in [0, 1).

How seedrandom 2.4 makes the stream, as implemented here:

1. *Key from the seed.* The seed string's UTF-16 code units are folded into a key of at
   most 256 bytes: for the j-th unit ``c``, ``smear ^= key[j mod 256] * 19`` (a slot not
   yet set counts as 0) and ``key[j mod 256] = (smear + c) mod 256``.
2. *ARC4.* The usual RC4 key schedule over a 256-entry table (an empty key acts as the
   one-byte key ``[0]``), after which the first 256 output bytes are thrown away.
3. *Doubles.* Six output bytes form ``n`` (big-endian) over ``d = 2**48``; while
   ``n < 2**52`` one more byte is appended (``n = (n + x) * 256``, ``d *= 256``, ``x`` the
   new byte); while ``n >= 2**53`` ``n``, ``d`` and ``x`` are halved (``x`` by a shift);
   the result is ``(n + x) / d``, exact in a double since every step is integer
   arithmetic below 2**53 and ``d`` is a power of two.

Pure and I/O-free, except :func:`fresh_seed`, which (as TensorFlow Playground does for
a link without a seed) draws a new seed from the system's randomness.

Example:
    >>> rng = PlaygroundRandom("0.80000")
    >>> a = rng.random()
    >>> 0.0 <= a < 1.0
    True
    >>> PlaygroundRandom("0.80000").random() == a
    True
    >>> fresh_seed().startswith(("0.", "1."))
    True
"""

from __future__ import annotations

import random as _system_random

__all__ = ["Arc4", "PlaygroundRandom", "fresh_seed", "seed_key"]

_WIDTH = 256  # each ARC4 output is one byte
_MASK = _WIDTH - 1
_CHUNKS = 6  # bytes that start every double
_START_DENOM = _WIDTH**_CHUNKS  # 2**48
_SIGNIFICANCE = 2**52
_OVERFLOW = 2**53


def seed_key(seed: str) -> list[int]:
    """The ARC4 key seedrandom 2.4 folds out of ``seed`` (step 1 of the module docstring).

    >>> seed_key("ab")
    [97, 98]
    >>> len(seed_key("x" * 300))
    256
    """
    units = seed.encode("utf-16-le")  # JavaScript strings are UTF-16 code units
    key: list[int] = []
    smear = 0
    for j in range(len(units) // 2):
        code = units[2 * j] | (units[2 * j + 1] << 8)
        slot = j & _MASK
        previous = key[slot] if slot < len(key) else 0
        smear ^= previous * 19
        value = (smear + code) & _MASK
        if slot < len(key):
            key[slot] = value
        else:
            key.append(value)
    return key


class Arc4:
    """The ARC4 (RC4) key schedule and byte stream, as seedrandom 2.4 runs it.

    Args:
        key: key bytes, 0 to 255 each; an empty key acts as ``[0]``.

    Example (RC4's published test vector for the key "Key"):
        >>> Arc4(b"Key").next_bytes(5).to_bytes(5, "big").hex()
        'eb9f7781b7'
    """

    __slots__ = ("_s", "_i", "_j")

    def __init__(self, key: bytes | list[int]) -> None:
        key = list(key) or [0]
        s = list(range(_WIDTH))
        j = 0
        for i in range(_WIDTH):
            j = (j + key[i % len(key)] + s[i]) & _MASK
            s[i], s[j] = s[j], s[i]
        self._s, self._i, self._j = s, 0, 0

    def next_bytes(self, count: int) -> int:
        """The next ``count`` bytes of the stream as one big-endian integer."""
        s, i, j = self._s, self._i, self._j
        out = 0
        for _ in range(count):
            i = (i + 1) & _MASK
            t = s[i]
            j = (j + t) & _MASK
            s[i] = s[j]
            s[j] = t
            out = out * _WIDTH + s[(s[i] + t) & _MASK]
        self._i, self._j = i, j
        return out


class PlaygroundRandom:
    """The stream ``Math.random`` gives after TensorFlow Playground's ``Math.seedrandom(seed)``.

    Args:
        seed: the seed string, exactly as it stands in the link (``"0.80000"``); it is
            not percent-decoded, as TensorFlow Playground reads it raw.

    Attributes:
        draws: how many doubles have been drawn so far.

    Example:
        >>> a, b = PlaygroundRandom("abc"), PlaygroundRandom("abc")
        >>> [a.random() for _ in range(3)] == [b.random() for _ in range(3)], a.draws
        (True, 3)
    """

    __slots__ = ("seed", "_arc4", "draws")

    def __init__(self, seed: str) -> None:
        if not isinstance(seed, str):
            raise TypeError(type(seed).__name__)  # a seed is text
        self.seed = seed
        self._arc4 = Arc4(seed_key(seed))
        self._arc4.next_bytes(_WIDTH)  # seedrandom drops the first 256 bytes
        self.draws = 0

    def random(self) -> float:
        """The next double in [0, 1), as ``Math.random()`` would return it."""
        n = self._arc4.next_bytes(_CHUNKS)
        d = _START_DENOM
        x = 0
        while n < _SIGNIFICANCE:
            n = (n + x) * _WIDTH
            d *= _WIDTH
            x = self._arc4.next_bytes(1)
        while n >= _OVERFLOW:
            n //= 2  # n is even here: it was just multiplied by 256
            d //= 2
            x >>= 1
        self.draws += 1
        return (n + x) / d

    def uniform(self, a: float, b: float) -> float:
        """TensorFlow Playground's ``randUniform(a, b)``: ``random() * (b - a) + a``."""
        return self.random() * (b - a) + a


def fresh_seed() -> str:
    """A new seed as TensorFlow Playground makes one: a random number written with 5 decimals.

    TensorFlow Playground writes ``Math.random().toFixed(5)``; here the number comes from
    the operating system's randomness.
    """
    return f"{_system_random.SystemRandom().random():.5f}"
