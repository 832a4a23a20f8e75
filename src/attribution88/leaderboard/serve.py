"""Serving a rendered site on localhost, for a look (`attribution88 leaderboard serve`)."""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

from attribution88.errors import UsageError

from .site import CSP

log = logging.getLogger(__name__)
HOST = "127.0.0.1"


class _Handler(SimpleHTTPRequestHandler):
    """Static files, with the pages' policy also sent as headers (the meta tag covers a site
    opened from disk or served by anything else)."""

    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, ".md": "text/plain; charset=utf-8",
                      ".html": "text/html; charset=utf-8", ".json": "application/json",
                      ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}

    def end_headers(self) -> None:
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the base class's name)
        log.info("%s %s", self.address_string(), format % args)


@contextmanager
def serving(directory: str | os.PathLike, port: int = 8000) -> Iterator[str]:
    """Serve ``directory`` on ``HOST:port`` (0: any free port) in a background thread; yields
    the URL of the main page."""
    server = _server(directory, port)
    thread = threading.Thread(target=server.serve_forever, name="leaderboard-serve", daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_address[1]}/index.html"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def serve_forever(directory: str | os.PathLike, port: int = 8000,
                  ready: Callable[[str], None] = print) -> None:
    """Serve ``directory`` until interrupted; ``ready(url)`` is called once it listens."""
    server = _server(directory, port)
    try:
        ready(f"http://{HOST}:{server.server_address[1]}/index.html")
        server.serve_forever()
    finally:
        server.server_close()


def _server(directory: str | os.PathLike, port: int) -> ThreadingHTTPServer:
    if not 0 <= port <= 65535:
        raise UsageError(f"--port {port}: not a port number (0-65535; 0 picks a free one)")
    handler = functools.partial(_Handler, directory=os.fspath(directory))
    try:
        return ThreadingHTTPServer((HOST, port), handler)
    except OSError as e:
        raise UsageError(f"cannot listen on {HOST}:{port} ({e.strerror or e}); pick another --port") from None
