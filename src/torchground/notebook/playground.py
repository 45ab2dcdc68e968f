"""The playground in a notebook cell: an anywidget trained in the kernel, no server, no port, no token.

The cell shows the page of ``torchground serve`` itself (``web/``: the same modules, see
``web/widget.js``) in an iframe; its messages travel over the widget's own channel to a
:class:`~torchground.server.session.Session` in the kernel, the same protocol object the
server runs per tab, and its ``/api/…`` requests are answered by the server's own
application, called in-process. Each widget has its session, run on an event loop of its
own in a background thread, so several widgets train independently and a cell that is
running does not stop them. Closing the output (its last view) pauses its training; closing
the widget (``w.close()``, or the front end closing its channel) ends the session and its
thread. Files the page uploads (a CSV data file, a saved session) travel as the message's
binary buffer.

From Python:

    >>> import torchground as tg
    >>> w = tg.Playground(dataset="xor", hidden=(4,), lr=0.1)   # or a Spec, or a TensorFlow Playground link
    >>> w.step(3)
    >>> w.epoch, len(w.history), w.spec.dataset
    (3, 3, 'xor')
    >>> w.set(lr=0.03)             # the page follows
    >>> w.reset(); w.epoch
    0
    >>> w.close()

``play()``, ``pause()``, ``step(n)``, ``reset()``, ``set(**changes)``; ``epoch``, ``running``,
``metrics`` and ``spec_fields`` are read-only traits (``w.observe(fn, names="epoch")``); ``spec``,
``history`` (the epochs' metric rows), ``model`` (the live ``nn.Module``), ``code`` (the
PyTorch script of what is on screen), ``notes`` (what opening a link noted, also shown as
warnings) and ``closed`` are properties. ``lang`` ("en" or "ja") may be set: the session's
messages, errors and ``code`` follow it. A setting the page's server refuses (beyond its
caps: layers, neurons, points) is refused here too, with the same message, in ``w.lang``. Commands wait their
turn behind the page's and return once done; from an ``observe`` callback (which runs on the
widget's thread, as frames arrive) they are queued instead.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import anywidget
import traitlets
from torch import nn

from torchground.atomic import write_bytes
from torchground.codegen import to_script
from torchground.data.csv_io import sha256_of
from torchground.errors import DataError, TorchgroundError
from torchground.i18n import LANGUAGES, Text, explicit_language, resolve_language
from torchground.notebook.turns import ATTACH, TurnSession
from torchground.server import frames
from torchground.server.app import create_app
from torchground.server.protocol import check_caps
from torchground.server.uploads import MAX_UPLOAD_BYTES, check_data_file, upload_dir
from torchground.server.urlstate import UrlState, to_query
from torchground.spec import Spec

__all__ = ["Playground"]

WEB = Path(str(resources.files("torchground"))) / "web"
#: Files of web/ the widget sends to its page: the page's modules, its HTML and style (not the widget's own module).
_PAGE_SUFFIXES = (".js", ".html", ".css")
#: Folders of web/ whose modules the page imports on first use: sent when it asks (Graphviz is large).
_ON_DEMAND = ("vendor/",)
_TIMEOUT_S = 600.0
#: The cell heights allowed, in pixels.
MIN_HEIGHT, MAX_HEIGHT = 200, 5000


def _page_files(on_demand: bool = False) -> dict[str, str]:
    """The page's files (``on_demand``: the modules sent only when the page asks for them)."""
    return {
        name: p.read_text(encoding="utf-8")
        for p in sorted(WEB.rglob("*"))
        if p.is_file() and p.suffix in _PAGE_SUFFIXES and p.name != "widget.js"
        and (name := p.relative_to(WEB).as_posix()).startswith(_ON_DEMAND) == on_demand
    }


def _spec_of(spec_or_link: Spec | str | None, overrides: Mapping[str, Any]) -> tuple[Spec, list[Text]]:
    """A spec from a Spec, a TensorFlow Playground link or nothing, with ``overrides`` applied,
    and the notes opening the link made; refused as the page's server refuses it."""
    if spec_or_link is not None and not isinstance(spec_or_link, (Spec, str)):
        raise TorchgroundError("notebook.bad_start", kind=type(spec_or_link).__name__)
    notes: list[Text] = []
    if isinstance(spec_or_link, str):
        from torchground.train.tfpg_run import spec_from_link

        spec, notes = spec_from_link(spec_or_link, **overrides)
    else:
        spec = spec_or_link if spec_or_link is not None else Spec()
        spec = spec.replace(**overrides) if overrides else spec
    spec = _own_data(spec)
    check_caps(spec)
    check_data_file(spec)
    return spec, notes


def _own_data(spec: Spec) -> Spec:
    """``spec`` with its data file (one of the kernel user's own, named from Python) kept among
    the uploads, the one folder the session reads data files from, as an upload from the page is."""
    if spec.data_file is None or Path(spec.data_file).parent.resolve() == upload_dir().resolve():
        return spec
    path = Path(spec.data_file)
    try:
        if path.stat().st_size > MAX_UPLOAD_BYTES:
            raise TorchgroundError("data.csv_too_big", path=str(path), size=path.stat().st_size, max=MAX_UPLOAD_BYTES)
        data = path.read_bytes()
    except FileNotFoundError:
        raise TorchgroundError("data.csv_missing", path=str(path)) from None
    except OSError as exc:
        raise TorchgroundError("data.csv_unreadable", path=str(path), reason=exc.strerror or type(exc).__name__) from None
    found = sha256_of(data)
    if spec.data_sha256 is not None and found != spec.data_sha256:  # named here by the user's path, before any copy
        raise DataError("classes.csv_changed", path=str(path), expected=spec.data_sha256[:12], found=found[:12])
    target = upload_dir() / f"{found}.csv"
    if not target.exists():
        write_bytes(target, data)
    return spec.replace(data_file=str(target))


def _check_height(value: Any) -> int:
    """``value`` as a cell height, or a clear refusal."""
    if isinstance(value, bool) or not isinstance(value, int) or not MIN_HEIGHT <= value <= MAX_HEIGHT:
        raise TorchgroundError("notebook.bad_height", value=repr(value), low=MIN_HEIGHT, high=MAX_HEIGHT)
    return value


@contextmanager
def _speaking(lang: str) -> Iterator[None]:
    """Refusals raised inside say their message in ``lang`` (not the kernel's language)."""
    try:
        yield
    except TorchgroundError as exc:
        exc.args = (exc.message(lang),)
        raise


def _in_language(method: Callable[..., Any]) -> Callable[..., Any]:
    """``method`` of a widget, its refusals in the widget's language."""

    def speaking(self: Playground, *args: Any, **kwargs: Any) -> Any:
        with _speaking(self.lang):
            return method(self, *args, **kwargs)

    speaking.__name__, speaking.__qualname__, speaking.__doc__ = method.__name__, method.__qualname__, method.__doc__
    return speaking


class Playground(anywidget.AnyWidget):
    """The playground in a notebook cell. See the module docstring.

    Args:
        spec_or_link: a :class:`~torchground.spec.Spec`, a TensorFlow Playground link, or None
            (the default spec).
        lang: "en" or "ja". Without it (and without ``TORCHGROUND_LANG``) the page speaks its
            browser's language, as ``serve``'s page does, and ``w.lang`` follows it once shown
            (until then: the kernel's locale). Picking a language in the page changes ``w.lang``.
        height: the cell's height in pixels (default 900; 200 to 5000).
        **overrides: spec fields (``dataset="xor"``, ``hidden=(4, 2)``, ``lr=0.1`` …).

    Raises:
        SpecError: a setting the spec refuses, or one beyond the page's caps (as ``serve``
            refuses it), named with what is allowed.
        TorchgroundError: a ``lang`` other than "en" or "ja"; a ``height`` out of range.
    """

    _esm = WEB / "widget.js"
    files = traitlets.Dict().tag(sync=True)
    lang = traitlets.Unicode("en").tag(sync=True)
    #: Whether the page takes its language from its browser (no ``lang=``, no ``TORCHGROUND_LANG``).
    browser_lang = traitlets.Bool(False).tag(sync=True)
    height = traitlets.Any(900).tag(sync=True)  # checked by _valid_height (a clear refusal, not a TraitError)
    #: Epochs trained so far (observable; read-only: ``step``, ``reset`` change it).
    epoch = traitlets.Int(0, read_only=True).tag(sync=True)
    #: Whether it is playing (observable; read-only: ``play``, ``pause`` change it).
    running = traitlets.Bool(False, read_only=True).tag(sync=True)
    #: The last epoch's metrics: train_loss, test_loss, … (observable; read-only).
    metrics = traitlets.Dict(read_only=True).tag(sync=True)
    #: The spec as a dict (observable; changes from the page arrive here; read-only: ``set`` changes it).
    spec_fields = traitlets.Dict(read_only=True).tag(sync=True)

    def __init__(self, spec_or_link: Spec | str | None = None, *, lang: str | None = None, height: int = 900, **overrides: Any) -> None:
        chosen = resolve_language(lang, "notebook.bad_lang")
        with _speaking(chosen):
            start, notes = _spec_of(spec_or_link, overrides)
            _check_height(height)
        self._notes = notes
        super().__init__(files=_page_files(), lang=chosen, browser_lang=explicit_language(lang) is None, height=height)
        self._views: set[str] = set()
        self._page_lang = False  # whether the page is changing ``lang`` (not Python)
        self._token = secrets.token_urlsafe(16)
        self._app = create_app(self._token, lang=self.lang)  # answers the page's /api requests
        self._loop = asyncio.new_event_loop()
        self._ended = False
        self._thread = threading.Thread(target=self._serve, name="torchground-playground", daemon=True)
        self._thread.start()
        # the session opens the saved sessions the page posts to the app's /api/session
        self._session = TurnSession(self._from_session, self.lang, self._app.state.bundles)
        self.on_msg(self._from_page)
        try:
            with _speaking(self.lang):
                self._run({"type": "init", "query": to_query(UrlState(start, (), {})), "lang": self.lang})
        except BaseException:  # refused by the session after all: no widget, no thread left behind
            self.close()
            raise
        for note in self.notes:  # shown in the cell, and kept in w.notes
            warnings.warn(note, stacklevel=2)

    # -- the Python API -------------------------------------------------------------------------
    @_in_language
    def play(self) -> None:
        """Train on, an epoch per frame, until :meth:`pause` (the page shows it)."""
        self._run({"type": "play"})
        self.set_trait("running", self._session.running)  # now, not at the first frame

    @_in_language
    def pause(self) -> None:
        """Stop training at the next step boundary, and return once it has stopped."""
        self._run({"type": "pause"})  # takes effect on arrival, answered once the epoch's slice ended
        self.set_trait("running", False)

    @_in_language
    def step(self, n: int = 1) -> None:
        """Train ``n`` epochs now (pausing first if playing), then return."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise TorchgroundError("notebook.bad_steps", value=repr(n))
        self._run({"type": "pause"}, *({"type": "step"} for _ in range(n)))

    @_in_language
    def reset(self) -> None:
        """Back to epoch 0 with the same initial weights."""
        self._run({"type": "reset"})

    @_in_language
    def set(self, **changes: Any) -> None:
        """Change settings (spec fields), as the page's controls do; the page follows.

        Raises:
            SpecError: a setting the spec refuses, or one beyond the page's caps (nothing changes).
        """
        new = _own_data(self.spec.replace(**changes))  # refused here, with the spec's message, rather than only in the page
        check_caps(new)
        check_data_file(new)
        if "data_file" in changes:
            changes = {**changes, "data_file": new.data_file}
        fields = {k: list(v) if isinstance(v, tuple) else v for k, v in changes.items()}
        self._run({"type": "set", "changes": fields})
        # the page changed nothing itself: its controls follow the spec (a live change sends it no state)
        self.send({"kind": "ws", "text": frames.dumps({"type": "changed", "spec": self.spec.to_dict()})})

    @property
    def spec(self) -> Spec:
        """The spec on screen."""
        assert self._session.spec is not None  # the constructor raised otherwise
        return self._session.spec

    @property
    def notes(self) -> list[str]:
        """What opening a TensorFlow Playground link noted (a seed drawn, inputs ignored …), in ``w.lang``."""
        return [note.render(self.lang) for note in self._notes]

    @property
    def history(self) -> list[dict[str, Any]]:
        """One row of metrics per epoch trained (copies)."""
        trainer = self._session.trainer
        return [dict(r) for r in trainer.history.rows] if trainer is not None else []

    @property
    def model(self) -> nn.Module:
        """The live model (training changes it in place)."""
        assert self._session.trainer is not None  # the constructor raised otherwise
        return self._session.trainer.model

    @property
    def code(self) -> str:
        """The PyTorch script of what is on screen (it reproduces the run)."""
        return to_script(self.spec, self.lang)

    def close(self) -> None:
        """Stop training, end the session and its thread, and close the widget."""
        self._end()
        super().close()

    @property
    def closed(self) -> bool:
        """Whether the session has ended (``close()``, or the front end closed the widget)."""
        return getattr(self, "_ended", True)

    def _end(self, _msg: Any = None) -> None:
        """End the session and stop its thread (once; also when the front end closes the channel)."""
        if self.closed:  # ended already, or the constructor failed before it made the loop
            return
        loop = self._loop
        if threading.current_thread() is self._thread:  # from an observe callback: end once it returns
            self._ended = True
            loop.create_task(self._session.close()).add_done_callback(lambda _task: loop.stop())
            return
        self._call(self._session.close())
        self._ended = True
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(timeout=10)

    @traitlets.validate("height")
    def _valid_height(self, proposal: Mapping[str, Any]) -> int:
        with _speaking(self.lang):
            return _check_height(proposal["value"])

    @traitlets.validate("lang")
    def _valid_lang(self, proposal: Mapping[str, Any]) -> str:
        value = proposal["value"]
        if value not in LANGUAGES:
            with _speaking(self.lang):
                raise TorchgroundError("notebook.bad_lang_set", value=repr(value), allowed=", ".join(LANGUAGES))
        return str(value)

    @traitlets.observe("lang")
    def _follow_lang(self, change: Mapping[str, Any]) -> None:
        """The session's messages (errors, notices) follow ``w.lang``, however it changed; set
        from Python it is a choice, as ``lang=`` is: views opened later show it, not their browser's."""
        session = getattr(self, "_session", None)
        if session is not None:
            session.lang = change["new"]
            if not self._page_lang:
                self.browser_lang = False

    @traitlets.observe("comm")
    def _watch_comm(self, change: Mapping[str, Any]) -> None:
        """The front end closing the widget's channel ends the session, as ``close()`` does."""
        comm = change["new"]
        if comm is not None and hasattr(comm, "on_close"):
            comm.on_close(self._end)

    # -- plumbing -------------------------------------------------------------------------------
    def _serve(self) -> None:
        """The widget's thread: its loop, until the session ends."""
        self._loop.run_forever()
        self._loop.close()

    def _call(self, coro: Any) -> Any:
        """Run ``coro`` on the widget's loop and wait for it.

        Called on the loop's own thread (an ``observe`` callback: traits change there, as
        frames arrive), it is queued instead, since waiting there would wait for ever.
        """
        if self.closed:
            coro.close()
            raise TorchgroundError("notebook.closed")
        if threading.current_thread() is self._thread:
            return self._loop.create_task(coro)
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(_TIMEOUT_S)

    def _run(self, *messages: dict[str, Any]) -> None:
        """Queue ``messages`` behind the page's and return once the last has been handled.

        Raises:
            TorchgroundError: the refusal the session answered the last message with (the
                page shows it too). Queued from an ``observe`` callback, nothing is raised.
        """

        async def run() -> TorchgroundError | None:
            for message in messages[:-1]:
                await self._session.submit(json.dumps(message))
            return await self._session.run(json.dumps(messages[-1]))

        refusal = self._call(run())
        if isinstance(refusal, TorchgroundError):
            raise refusal

    async def _from_session(self, text: str) -> None:
        """A message of the session: to the page, and its news into the traits."""
        self.send({"kind": "ws", "text": text})
        head = text[:30]  # '{"type":"frame",…': a look at the type without parsing the maps
        session = self._session
        if '"frame"' in head or '"state"' in head:
            trainer = session.trainer
            self.set_trait("epoch", trainer.history.epochs if trainer is not None else 0)
            self.set_trait("running", session.running)
            if trainer is not None:
                self.set_trait("metrics", {k: v for k, v in trainer.metrics_row().items() if isinstance(v, (int, float, str)) or v is None})
            if session.spec is not None:
                self.set_trait("spec_fields", json.loads(session.spec.to_json()))

    def _from_page(self, _widget: Any, content: Any, buffers: Any) -> None:
        if not isinstance(content, dict) or self.closed:
            return
        kind = content.get("kind")
        if kind == "ws" and isinstance(content.get("text"), str):
            text = content["text"]
            if '"init"' in text[:30] or '"set"' in text[:30]:
                self._take_language(text, init='"init"' in text[:30])
            if '"init"' in text[:30]:  # a view opened: it joins the session as it is (epoch, weights, history)
                text = ATTACH if self._session.trainer is not None else json.dumps({"type": "init", "query": self._session.query(), "lang": self.lang})
            asyncio.run_coroutine_threadsafe(self._session.submit(text), self._loop)
        elif kind == "fetch":
            body = content.get("body")
            if content.get("binary") and buffers:  # a file the page posts: its bytes are the message's buffer
                body = bytes(buffers[0])
            asyncio.run_coroutine_threadsafe(self._fetch(content, body), self._loop)
        elif kind == "file":  # a module the page imports on first use
            name = content.get("name")
            text = _page_files(on_demand=True).get(name) if isinstance(name, str) else None
            if text is not None:
                self.send({"kind": "file", "name": name, "text": text})
        elif kind == "view" and isinstance(content.get("view"), str):
            self._views.add(content["view"])
        elif kind == "closed":  # an output went away: training stops once none shows it
            self._views.discard(str(content.get("view")))
            if not self._views:
                asyncio.run_coroutine_threadsafe(self._session.submit(json.dumps({"type": "pause"})), self._loop)

    def _take_language(self, text: str, init: bool) -> None:
        """The page's language: its browser's when it opens (if no language was chosen), or the
        learner's pick in the page; the session's messages and ``w.code`` follow it."""
        try:
            message = json.loads(text)
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        changes = message.get("changes")
        lang = message.get("lang") if init else changes.get("lang") if isinstance(changes, dict) else None
        if lang in LANGUAGES and (self.browser_lang or not init):
            self._page_lang = True
            try:
                self.lang = self._session.lang = lang
            finally:
                self._page_lang = False

    async def _fetch(self, request: Mapping[str, Any], body: Any) -> None:
        """An ``/api/…`` request of the page, answered by the server's own application."""
        import httpx

        path = str(request.get("path", "/"))
        if not path.startswith("/api/"):
            return
        path += ("&" if "?" in path else "?") + f"token={self._token}"
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=self._app), base_url="http://widget") as client:
            answer = await client.request(str(request.get("method", "GET")), path, content=body if isinstance(body, (str, bytes)) else None)
        self.send({"kind": "fetch", "id": request.get("id"), "status": answer.status_code, "body": answer.text,
                   "type": answer.headers.get("content-type", "text/plain")})
