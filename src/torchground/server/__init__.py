"""The browser playground's server (``torchground serve``): a front end over the trainer.

Training runs here in PyTorch; the page (``torchground/web/``) is a view that sends
commands over a WebSocket and draws the frames it gets back. The protocol is
``docs/serve-protocol.md``. One concern per module:

- :mod:`~torchground.server.app`: the FastAPI application (:func:`create_app`).
- :mod:`~torchground.server.security`: launch token, cookie, WebSocket Origin, static paths.
- :mod:`~torchground.server.protocol`: message models, size caps, error messages.
- :mod:`~torchground.server.session`: one training session per WebSocket.
- :mod:`~torchground.server.frames`: maps, parameters and metrics as JSON.
- :mod:`~torchground.server.urlstate`: the URL query ↔ spec, weight edits and view options.
"""

from __future__ import annotations

from torchground.server.app import create_app

__all__ = ["create_app"]
