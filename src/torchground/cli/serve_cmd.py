"""``torchground serve``: run the browser playground's server and open it in the browser.

Binds 127.0.0.1 unless told otherwise (with a warning for any address other computers can
reach), makes a per-launch token, prints the URL that carries it, opens the browser on it
(unless ``--no-open``) and runs uvicorn until Ctrl-C.
"""

from __future__ import annotations

import socket
import webbrowser
from typing import Annotated, Optional

import torch
import typer
import uvicorn
from rich.console import Console

from torchground.cli.app import app, apply_lang, err_console
from torchground.cli.train_cmd import engine_notices
from torchground.errors import TorchgroundError
from torchground.i18n import explicit_language, get_language, t
from torchground.server import create_app
from torchground.server.protocol import check_caps
from torchground.server.security import is_loopback, new_token
from torchground.server.urlstate import UrlState, to_query
from torchground.train.tfpg_run import spec_from_link

__all__ = ["serve_command", "WS_MAX_SIZE", "playground_url"]

#: Largest WebSocket frame uvicorn reads at all (bigger ones close the connection, code 1009);
#: messages up to this size but over the protocol's 64 KiB get an error answer instead.
WS_MAX_SIZE = 1024 * 1024


def playground_url(host: str, port: int, token: str) -> str:
    """The URL to open: a wildcard address is opened as 127.0.0.1; IPv6 goes in brackets."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/?token={token}"


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: a free one), or a catalogue error."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
            sock.listen(128)  # connections wait in the backlog until uvicorn serves them
        except OSError:
            sock.close()
            raise
    except OSError as exc:
        raise TorchgroundError("server.cli.bind_failed", host=host, port=port, reason=exc.strerror or str(exc)) from None
    return sock


def _link_query(link: str) -> str:
    """The page's URL state for a TensorFlow Playground link (its notes printed on stderr)."""
    spec, notes = spec_from_link(link, device="cpu")
    check_caps(spec)
    for note in notes:
        err_console.print(note.render(), highlight=False)
    return to_query(UrlState(spec))


@app.command("serve", help=t("server.cli.help"))
def serve_command(
    host: Annotated[str, typer.Option("--host", help=t("server.cli.host"))] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help=t("server.cli.port"))] = 8000,
    no_open: Annotated[bool, typer.Option("--no-open", help=t("server.cli.no_open"))] = False,
    open_link: Annotated[Optional[str], typer.Option("--open", help=t("tfpg.help.serve_open"))] = None,
    lang: Annotated[Optional[str], typer.Option("--lang", help=t("cli.help.lang"))] = None,
) -> None:
    apply_lang(lang)
    if not 0 <= port <= 65535:
        raise TorchgroundError("server.cli.bad_port", value=port)
    query = _link_query(open_link) if open_link is not None else ""  # a bad link is refused before binding
    sock = _bind(host, port)
    token = new_token()
    url = playground_url(host, sock.getsockname()[1], token) + (f"&{query}" if query else "")
    console = Console(highlight=False, soft_wrap=True)
    console.print(t("server.cli.url", url=url))
    console.print(t("server.cli.stop"))
    if not is_loopback(host):
        err_console.print(t("server.cli.warn_public", host=host), highlight=False)
    # Access logs are off: every request line would print the token.
    config = uvicorn.Config(
        create_app(token, lang=get_language(), port=sock.getsockname()[1], host=host, page_lang=explicit_language(lang)),
        ws_max_size=WS_MAX_SIZE, log_level="warning", access_log=False, lifespan="off",
    )
    server = uvicorn.Server(config)
    if not no_open:
        webbrowser.open(url)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # many small sessions in parallel threads: one intra-op thread each is fastest
    try:
        with engine_notices():  # the engine's notices (the grid's fused kernel) as plain lines, as train and sweep
            server.run(sockets=[sock])
    finally:
        torch.set_num_threads(threads)
        sock.close()
