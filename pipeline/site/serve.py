"""``pipeline serve``: preview the published site locally, as a static host serves it.

Python's own ``http.server`` answers every request with the whole file, so a browser cannot
seek in a recording; this one honours byte ranges (``Range: bytes=a-b``, RFC 9110), sends
UTF-8 as the charset of text, and answers a missing page with the site's ``404.html``.

It serves the site and nothing else: only regular files whose real path (links resolved)
lies inside the site folder, a folder only through its ``index.html`` (never a listing); a
``Range`` it cannot read is a 416. Connections are bounded: an idle one is closed after
:data:`IDLE_SECONDS`, and past :data:`MAX_CONNECTIONS` at once a new one gets a 503 at once
instead of a thread.
"""

from __future__ import annotations

import http.server
import io
import os
import re
import shutil
import threading
from pathlib import Path
from typing import Any, BinaryIO

IDLE_SECONDS = 10.0
"""How long a connection may stay silent before it is closed."""
MAX_CONNECTIONS = 32
"""Connections served at once (a browser opens about six)."""
RANGE = re.compile(r"bytes=(\d{1,15})-(\d{0,15})")


def byte_range(header: str, size: int) -> tuple[int, int] | None:
    """The first and last byte a ``Range`` header asks of a file of ``size`` bytes; None when
    it cannot be served (a 416). Call it only with a header."""
    match = RANGE.fullmatch(header)
    if not match:
        return None
    start, end = int(match.group(1)), min(int(match.group(2) or size - 1), size - 1)
    return (start, end) if start < size and end >= start else None


def copy_bytes(source: BinaryIO, target: BinaryIO | io.BufferedIOBase, count: int) -> None:
    """At most ``count`` bytes of ``source`` (from where it stands) written to ``target``."""
    while count > 0:
        chunk = source.read(min(65536, count))
        if not chunk:
            break
        target.write(chunk)
        count -= len(chunk)


TEXT_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".xml": "application/xml", ".vtt": "text/vtt"}


def handler_for(site: Path) -> type[http.server.SimpleHTTPRequestHandler]:
    """A request handler serving ``site`` with byte ranges."""

    root = site.resolve()

    class Handler(http.server.SimpleHTTPRequestHandler):
        range_left: int | None = None
        timeout = IDLE_SECONDS  # an idle connection is closed (socket timeout)

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(site), **kwargs)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            pass

        def guess_type(self, path: str | os.PathLike[str]) -> str:
            suffix = Path(path).suffix.lower()
            if suffix in TEXT_TYPES:
                return f"{TEXT_TYPES[suffix]}; charset=utf-8"
            kind = super().guess_type(path)
            return f"{kind}; charset=utf-8" if kind.startswith("text/") else kind

        def send_head(self) -> Any:
            self.range_left = None
            path = self._inside(self.translate_path(self.path))
            if path is not None and path.is_dir():
                if not self.path.split("?", 1)[0].split("#", 1)[0].endswith("/"):
                    return super().send_head()  # the base class redirects to the folder's « / »
                path = self._inside(str(path / "index.html"))
            if path is None or not path.is_file():
                return self._not_found()
            path_text = str(path)
            header = self.headers.get("Range", "")
            if not header:
                handle = open(path_text, "rb")  # noqa: SIM115 - the base class closes it
                size = os.fstat(handle.fileno()).st_size
                self.send_response(200)
                self.send_header("Content-Type", self.guess_type(path_text))
                self.send_header("Content-Length", str(size))
                self.send_header("Last-Modified", self.date_time_string(int(os.fstat(handle.fileno()).st_mtime)))
                self.end_headers()
                return handle
            size = path.stat().st_size
            wanted = byte_range(header, size)
            if wanted is None:
                return self._unsatisfiable(size)
            start, end = wanted
            handle = open(path, "rb")  # noqa: SIM115 - the base class closes it
            handle.seek(start)
            self.send_response(206)
            self.send_header("Content-Type", self.guess_type(path_text))
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            self.send_header("Content-Length", str(end - start + 1))
            self.end_headers()
            self.range_left = end - start + 1
            return handle

        def _inside(self, translated: str) -> Path | None:
            """The real path of a request, or None when it lies outside the site."""
            try:
                real = Path(translated).resolve()
            except (OSError, RuntimeError):
                return None
            return real if real == root or root in real.parents else None

        def _not_found(self) -> Any:
            page = root / "404.html"
            if not page.is_file():
                self.send_error(404)
                return None
            body = page.read_bytes()
            self.send_response(404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            return open(page, "rb")  # noqa: SIM115 - the base class closes it

        def _unsatisfiable(self, size: int) -> None:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None

        def list_directory(self, path: str | os.PathLike[str]) -> None:
            return self._not_found()  # type: ignore[no-any-return]

        def end_headers(self) -> None:
            if self.range_left is None:
                self.send_header("Accept-Ranges", "bytes")
            super().end_headers()

        def copyfile(self, source: BinaryIO, outputfile: BinaryIO) -> None:  # type: ignore[override]
            if self.range_left is None:
                shutil.copyfileobj(source, outputfile)
            else:
                copy_bytes(source, outputfile, self.range_left)

    return Handler


class BoundedServer(http.server.ThreadingHTTPServer):
    """A threading server that serves at most :data:`MAX_CONNECTIONS` connections at once
    and answers any further one with a 503, without a thread."""

    daemon_threads = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            try:
                request.sendall(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            except OSError:
                pass
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


def make_server(site: Path, host: str = "127.0.0.1", port: int = 8000) -> http.server.ThreadingHTTPServer:
    """A server for ``site`` (not started: call ``serve_forever``); port 0 picks a free one."""
    return BoundedServer((host, port), handler_for(site))
