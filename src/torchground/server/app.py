"""The FastAPI application of ``torchground serve``: the page, its static files, the API, the WebSocket.

:func:`create_app` wires the pieces together: :class:`~torchground.server.security.TokenGuard`
in front of everything, the page and ``/static/`` from the packaged ``torchground/web/``
folder, ``/api/options``, ``/api/meta`` (:mod:`~torchground.server.meta`) and
``/api/i18n/<lang>``, and ``/ws``, where each connection
gets its own :class:`~torchground.server.session.Session` (at most
:data:`~torchground.server.protocol.MAX_SESSIONS` at once).

Example:
    >>> from fastapi.testclient import TestClient
    >>> client = TestClient(create_app("secret"))
    >>> client.get("/api/options").status_code, client.get("/api/options?token=secret").status_code
    (403, 200)
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response

from torchground.data.datasets import DATASETS
from torchground.data.features import FEATURES
from torchground.i18n import LANGUAGES, catalogue, get_language, t
from torchground.registry import ACTIVATIONS, INITS, LOSSES, OPTIMIZERS, optimizer_params
from torchground.schedules import SCHEDULERS
from torchground.server import frames
from torchground.server.meta import limits, meta
from torchground.errors import TorchgroundError
from torchground.server.protocol import MAX_SESSIONS, check_caps
from torchground.server.uploads import MAX_UPLOAD_BYTES, save_upload
from torchground.server.security import TokenGuard, resolve_static
from torchground.server.scheduler import Scheduler
from torchground.server.session import Session
from torchground.server.bundles import MAX_BUNDLE_BYTES, BundleStore
from torchground.server.urlstate import DEFAULT_SPEC
from torchground.train.threads import forced

__all__ = ["create_app", "WEB_DIR", "LEARNING_RATES", "REGULARIZATION_RATES", "WS_TOO_MANY"]

#: The packaged page (made by the web front end; may be missing in a source checkout).
WEB_DIR = Path(__file__).resolve().parent.parent / "web"
#: The Playground's choices.
LEARNING_RATES = (0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10)
REGULARIZATION_RATES = (0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10)
#: WebSocket close code when all session slots are taken ("try again later").
WS_TOO_MANY = 1013
_MEDIA_TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm", ".css": "text/css",
                ".svg": "image/svg+xml", ".json": "application/json", ".html": "text/html"}


class _Slots:
    """Counts open sessions (thread-safe: test clients may run each socket on its own loop)."""

    def __init__(self, limit: int) -> None:
        self.limit, self.count, self._lock = limit, 0, threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self.count >= self.limit:
                return False
            self.count += 1
            return True

    def give(self) -> None:
        with self._lock:
            self.count -= 1


def create_app(token: str, lang: str | None = None, web_dir: Path | None = None, max_sessions: int = MAX_SESSIONS,
               port: int | None = None, host: str | None = None, page_lang: str | None = None) -> FastAPI:
    """The server's ASGI application.

    Args:
        token: the per-launch token every request must carry (cookie ``tg_token_<port>`` or ``?token=``).
        lang: language of messages before a session says otherwise (default: the current one).
        web_dir: folder of the page's files (default: the packaged ``torchground/web/``).
        max_sessions: open WebSocket sessions allowed at once (default :data:`MAX_SESSIONS`).
        port, host: where the server listens: the ``Host`` header is checked against them and
            the port names the cookie (see :class:`~torchground.server.security.TokenGuard`).
        page_lang: the page's language when chosen on purpose (``serve --lang``,
            ``TORCHGROUND_LANG``; :func:`torchground.i18n.explicit_language`): the page gets it
            in the cookie ``tg_lang`` and starts in it unless its URL names one; ``None``: the
            page follows its browser's language.

    Returns:
        The FastAPI app, with :class:`~torchground.server.security.TokenGuard` in front of
        every route.
    """
    forced()  # a bad TORCHGROUND_THREADS is refused before anything starts (serve, the notebook widget)
    lang_default = lang or get_language()
    root = web_dir or WEB_DIR
    slots = _Slots(max_sessions)
    api = FastAPI(title="torchground", docs_url=None, redoc_url=None, openapi_url=None)
    api.state.slots = slots
    bundles = api.state.bundles = BundleStore()
    scheduler = api.state.scheduler = Scheduler()  # the sessions share the CPU through it

    def not_found(key: str, **params: Any) -> Response:
        return PlainTextResponse(t(key, lang_default, **params) + "\n", status_code=404)

    @api.get("/")
    def index() -> Response:
        page = resolve_static(root, "index.html")
        if not page:
            return not_found("server.page_missing")
        response = FileResponse(page, media_type="text/html")
        if page_lang in LANGUAGES:  # the language rule: serve --lang / TORCHGROUND_LANG before the browser's
            response.set_cookie("tg_lang", page_lang, samesite="strict")
        else:
            response.delete_cookie("tg_lang", samesite="strict")
        return response

    @api.get("/static/{path:path}")
    def static(path: str) -> Response:
        found = resolve_static(root, path)
        if found is None:
            return not_found("server.not_found", path=path[:200])
        return FileResponse(found, media_type=_MEDIA_TYPES.get(found.suffix.lower()))

    @api.get("/api/options")
    def options(lang: str | None = None) -> Response:
        chosen = _language(lang, default=lang_default)
        if chosen is None:
            return PlainTextResponse(t("server.bad_lang", lang_default, value=lang, allowed=", ".join(LANGUAGES)) + "\n", 400)
        return JSONResponse(_options(chosen))

    @api.get("/api/meta")
    def facts() -> Response:
        return JSONResponse(meta())

    @api.post("/api/data")
    async def upload(request: Request, problem: str | None = None, lang: str | None = None) -> Response:
        """A CSV data file from the page: checked, kept, answered with its spec fields."""
        chosen = _language(lang, default=lang_default) or lang_default
        size = request.headers.get("content-length")
        if size is not None and size.isdigit() and int(size) > MAX_UPLOAD_BYTES:
            return JSONResponse({"error": t("data.csv_too_big", chosen, path="upload", size=int(size), max=MAX_UPLOAD_BYTES)}, 413)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_UPLOAD_BYTES:
                return JSONResponse({"error": t("data.csv_too_big", chosen, path="upload", size=len(body), max=MAX_UPLOAD_BYTES)}, 413)
        try:
            fields = await asyncio.to_thread(save_upload, bytes(body), problem)
            check_caps(DEFAULT_SPEC.replace(**fields))
        except TorchgroundError as exc:
            return JSONResponse({"error": exc.message(chosen)}, 400)
        return JSONResponse({"changes": fields})

    @api.post("/api/session")
    async def session_file(request: Request, lang: str | None = None) -> Response:
        """A saved session file from the page: checked strictly, kept, answered with its id for ``open``."""
        chosen = _language(lang, default=lang_default) or lang_default
        size = request.headers.get("content-length")
        if size is not None and size.isdigit() and int(size) > MAX_BUNDLE_BYTES:
            return JSONResponse({"error": t("server.session.too_big", chosen, size=int(size), max=MAX_BUNDLE_BYTES)}, 413)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BUNDLE_BYTES:
                return JSONResponse({"error": t("server.session.too_big", chosen, size=len(body), max=MAX_BUNDLE_BYTES)}, 413)
        try:
            key = await asyncio.to_thread(bundles.put, bytes(body))
        except TorchgroundError as exc:
            return JSONResponse({"error": exc.message(chosen)}, 400)
        return JSONResponse({"id": key})

    @api.get("/api/i18n/{lang}")
    def texts(lang: str) -> Response:
        if lang not in LANGUAGES:
            return not_found("server.bad_lang", value=lang[:20], allowed=", ".join(LANGUAGES))
        return JSONResponse({k: v for k, v in catalogue(lang).items() if k.startswith("web.")})

    @api.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        if not slots.take():
            message = t("server.too_many_sessions", lang_default, limit=slots.limit)
            await websocket.send_text(frames.dumps({"type": "error", "message": message}))
            await websocket.close(code=WS_TOO_MANY)
            return
        send_lock = asyncio.Lock()
        gone = False

        async def send(text: str) -> None:
            nonlocal gone
            async with send_lock:
                if gone:
                    return
                try:
                    await websocket.send_text(text)
                except Exception:  # the client went away mid-answer: drop what it can no longer read
                    gone = True

        session = Session(send, lang_default, bundles, scheduler)
        try:
            while True:
                event = await websocket.receive()
                if event["type"] == "websocket.disconnect":
                    break
                raw = event.get("text")
                await session.submit(raw if raw is not None else event.get("bytes") or b"")  # handled by the session's task
        except WebSocketDisconnect:
            pass
        finally:
            await session.close()
            slots.give()

    api.add_middleware(TokenGuard, token=token, lang=lang_default, port=port, bound=host)
    return api


def _language(value: str | None, default: str) -> str | None:
    if value is None:
        return default
    return value if value in LANGUAGES else None


def _options(lang: str) -> dict[str, Any]:
    """The choices the page offers, named and explained in ``lang``."""
    def summaries(registry: Any) -> list[dict[str, Any]]:
        return [{"name": n, "summary": registry.get(n).summary(lang)} for n in registry.names()]

    losses = summaries(LOSSES)
    for item in losses:
        item["problems"] = list(LOSSES.get(item["name"]).info["problems"])
    optimizers = summaries(OPTIMIZERS)
    for item in optimizers:
        item["params"] = frames.json_safe(optimizer_params(item["name"]))
        item["weight_decay"] = bool(OPTIMIZERS.get(item["name"]).info["weight_decay"])
    return {
        "activations": summaries(ACTIVATIONS),
        "losses": losses,
        "optimizers": optimizers,
        "inits": summaries(INITS),
        "schedulers": [{"name": "none", "summary": t("web.takeout_no_schedule", lang)}]
        + [{"name": n, "summary": f"torch.optim.lr_scheduler.{cls.__name__}"} for n, cls in SCHEDULERS.items()],
        "datasets": [{"name": n, "problem": d.problem, "summary": t(d.summary_key, lang)} for n, d in DATASETS.items()],
        "features": [{"name": n, "label": f.label, "summary": t(f.summary_key, lang)} for n, f in FEATURES.items()],
        "learning_rates": list(LEARNING_RATES),
        "regularization_rates": list(REGULARIZATION_RATES),
        "limits": limits(),
        "defaults": DEFAULT_SPEC.to_dict(),
    }
