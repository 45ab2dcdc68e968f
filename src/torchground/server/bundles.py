"""Saved page sessions (``.tgsession`` files): one safetensors file made with the checkpoint API.

A bundle is a safetensors file: every tensor of :func:`torchground.train.checkpoint.capture`
(weights, optimiser state, generator states, ...) as a tensor, and in the file's metadata
exactly two JSON texts: ``torchground`` (the checkpoint's meta: epoch, history, scheduler and
early-stopping state, the spec) and ``torchground_session`` (``{"format": 1, "query": ...}``:
the page's URL state, i.e. the spec, the edits of the initial weights and the view options).
Never pickle.

:func:`make_bundle` writes one from a session's trainer; :func:`read_bundle` checks one
strictly before anything is built: its size, the safetensors header (only tensors, no
unexpected metadata keys), the JSON, the format, the URL state re-validated as a ``init``
would (caps, data file), the checkpoint's spec equal to the URL state's spec, and the
tensors exactly those the checkpoint's state names. :class:`BundleStore` keeps bundles
posted to ``POST /api/session`` until a session opens them by id (``{"type": "open"}``).
"""

from __future__ import annotations

import hashlib
import json
import struct
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import torch
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from torchground.errors import TorchgroundError
from torchground.i18n import Text
from torchground.server.protocol import check_caps
from torchground.server.uploads import check_data_file
from torchground.server.urlstate import UrlState, parse_query
from torchground.spec import Spec
from torchground.train.checkpoint import FORMAT, capture

__all__ = ["MAX_BUNDLE_BYTES", "SESSION_FORMAT", "SUFFIX", "Bundle", "BundleStore", "make_bundle", "read_bundle", "bundle_name"]

#: Largest bundle accepted (a long session's history is the biggest part).
MAX_BUNDLE_BYTES = 16 * 1024 * 1024
SESSION_FORMAT = 1
SUFFIX = ".tgsession"
_META_KEYS = {"torchground", "torchground_session"}
_MAX_HEADER = 1024 * 1024 * 8


@dataclass(frozen=True)
class Bundle:
    """A checked bundle: the URL state and the checkpoint (tensors, meta) to restore."""

    state: UrlState
    tensors: dict[str, torch.Tensor]
    meta: dict[str, Any]


def bundle_name(spec: Spec, epoch: int) -> str:
    """The file name the page offers: dataset, layer widths and epoch."""
    widths = "-".join(str(w) for w in spec.hidden) or "0"
    return f"torchground-{spec.dataset}-{widths}-epoch{epoch}{SUFFIX}"


def make_bundle(trainer: Any, query: str) -> bytes:
    """The session's state as bundle bytes; call it at an epoch boundary."""
    tensors, meta = capture(trainer)
    session = {"format": SESSION_FORMAT, "query": query}
    return save_tensors(tensors, metadata={"torchground": json.dumps(meta, allow_nan=False),
                                           "torchground_session": json.dumps(session)})


def _bad(reason: str | Text) -> TorchgroundError:
    return TorchgroundError("server.session.bad_file", reason=reason)


def read_bundle(data: bytes) -> Bundle:
    """Check a bundle strictly and return what it holds.

    Raises:
        TorchgroundError: too large, not a safetensors file, unexpected members, bad JSON,
            another format, a spec the page refuses, or tensors that do not match the state.
    """
    if len(data) > MAX_BUNDLE_BYTES:
        raise TorchgroundError("server.session.too_big", size=len(data), max=MAX_BUNDLE_BYTES)
    if len(data) < 8:
        raise _bad(Text("server.session.not_safetensors"))
    (n,) = struct.unpack("<Q", data[:8])
    if n > min(_MAX_HEADER, len(data) - 8):
        raise _bad(Text("server.session.not_safetensors"))
    try:
        header = json.loads(data[8 : 8 + n])
    except (UnicodeDecodeError, ValueError):
        raise _bad(Text("server.session.not_safetensors")) from None
    if not isinstance(header, dict) or not isinstance(header.get("__metadata__"), dict):
        raise _bad(Text("server.session.not_safetensors"))
    extra = set(header["__metadata__"]) ^ _META_KEYS
    if extra:
        raise _bad(Text("server.session.members", found=", ".join(sorted(header["__metadata__"]))[:200], allowed=", ".join(sorted(_META_KEYS))))
    try:
        tensors = load_tensors(data)
        meta = json.loads(header["__metadata__"]["torchground"])
        session = json.loads(header["__metadata__"]["torchground_session"])
    except Exception:  # safetensors' own errors, bad JSON
        raise _bad(Text("server.session.not_safetensors")) from None
    if not isinstance(session, dict) or session.get("format") != SESSION_FORMAT or not isinstance(session.get("query"), str):
        raise _bad(Text("server.session.format", found=str(session.get("format") if isinstance(session, dict) else "?")[:20], expected=SESSION_FORMAT))
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or set(meta) != {"format", "spec", "epoch", "wall_s", "history", "state"}:
        raise _bad(Text("server.session.format", found=str(meta.get("format") if isinstance(meta, dict) else "?")[:20], expected=FORMAT))
    state = parse_query(session["query"])  # the spec re-validated, as an ``init`` would
    check_caps(state.spec)
    check_data_file(state.spec)
    try:
        saved = Spec.model_validate(meta["spec"])
    except Exception:
        raise _bad(Text("server.session.spec_mismatch")) from None
    if saved != state.spec:
        raise _bad(Text("server.session.spec_mismatch"))
    if not isinstance(meta["epoch"], int) or isinstance(meta["epoch"], bool) or meta["epoch"] < 0:
        raise _bad(Text("server.session.format", found="epoch", expected=FORMAT))
    named = set(_tensor_refs(meta["state"])) | set(_tensor_refs(meta["history"]))
    if named != set(tensors):
        raise _bad(Text("server.session.tensors"))
    return Bundle(state, tensors, meta)


def _tensor_refs(obj: Any) -> list[str]:
    """Every ``{"$t": name}`` reference in a checkpoint's packed state."""
    if isinstance(obj, list):
        return [r for v in obj for r in _tensor_refs(v)]
    if isinstance(obj, dict):
        if set(obj) == {"$t"} and isinstance(obj["$t"], str):
            return [obj["$t"]]
        return [r for v in obj.values() for r in _tensor_refs(v)]
    return []


class BundleStore:
    """Checked bundles waiting to be opened by a session, by id (the bundle's sha256); the oldest
    are dropped beyond ``limit``."""

    def __init__(self, limit: int = 16) -> None:
        self.limit = limit
        self._items: OrderedDict[str, Bundle] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, data: bytes) -> str:
        bundle = read_bundle(data)
        key = hashlib.sha256(data).hexdigest()
        with self._lock:
            self._items[key] = bundle
            self._items.move_to_end(key)
            while len(self._items) > self.limit:
                self._items.popitem(last=False)
        return key

    def get(self, key: str) -> Bundle:
        with self._lock:
            bundle = self._items.get(key)
        if bundle is None:
            raise TorchgroundError("server.session.unknown")
        return bundle
