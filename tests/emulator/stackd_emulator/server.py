"""Command line and HTTP server of the emulator: moto's WSGI app on a loopback port."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import re
import signal
import sys
from types import FrameType

from . import extensions
from .recording import RecordingMiddleware

log = logging.getLogger("stackd_emulator")

READY_PREFIX = "stackd-emulator ready on"
"""Start of the one line printed to stdout once the server accepts connections."""


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, then serve until SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="python -m stackd_emulator",
        description=(
            "Serve moto's AWS emulator, with stackd's extensions and a call log, "
            "on a loopback address."
        ),
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help=(
            "loopback address to bind: an address in 127.0.0.0/8, ::1 or localhost "
            "(default: %(default)s)"
        ),
    )
    parser.add_argument(
        "--port",
        type=int,
        default=5000,
        help=(
            "TCP port to bind, or 0 for a free port that the ready line names "
            "(default: %(default)s)"
        ),
    )
    args = parser.parse_args(argv)

    if not is_loopback(args.host):
        parser.error(
            f"invalid --host {args.host!r}: the emulator binds loopback addresses only "
            "(127.0.0.0/8, ::1 or localhost)"
        )
    if not 0 <= args.port <= 65535:
        parser.error(f"invalid --port {args.port}: expected 0 to 65535")

    configure_logging()
    serve(args.host, args.port)
    return 0


class _PlainFormatter(logging.Formatter):
    """Formatter that drops the ANSI colours werkzeug puts in its request lines."""

    ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")

    def format(self, record: logging.LogRecord) -> str:
        return self.ANSI_ESCAPE.sub("", super().format(record))


def configure_logging() -> None:
    """Log to stderr at INFO, werkzeug's request lines included, in colour only on a terminal."""
    handler = logging.StreamHandler(sys.stderr)
    formatter_class = logging.Formatter if sys.stderr.isatty() else _PlainFormatter
    handler.setFormatter(formatter_class("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])


def is_loopback(host: str) -> bool:
    """Return whether ``host`` is ``localhost`` or a loopback IP address.

    Other names are rejected without a DNS lookup, so the check itself
    sends nothing over the network.
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(host: str, port: int) -> None:
    """Serve moto on ``host:port`` until the process receives SIGINT or SIGTERM."""
    # Moto and werkzeug are imported here so `--help` and argument errors
    # come back without the second or two that importing moto takes.
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    extensions.install()
    app = RecordingMiddleware(DomainDispatcherApplication(create_backend_app))

    # make_server binds and listens before it returns, so the ready line
    # below is printed only once connections are accepted.
    server = make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)
    bound_port = server.server_port
    # Moto reads MOTO_PORT to build URLs that point back at itself.
    os.environ["MOTO_PORT"] = str(bound_port)

    url_host = f"[{host}]" if ":" in host else host
    url = f"http://{url_host}:{bound_port}"
    signal.signal(signal.SIGTERM, _exit_on_signal)
    log.info("serving moto on %s (process %d)", url, os.getpid())
    print(f"{READY_PREFIX} {url}", flush=True)

    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        log.info("stopped serving %s", url)


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    # KeyboardInterrupt leaves serve_forever the same way SIGINT does.
    raise KeyboardInterrupt
