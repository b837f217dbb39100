"""``pipeline serve``: preview the published site locally, as a static host serves it.

Python's own ``http.server`` answers every request with the whole file, so a browser cannot
seek in a recording; this one honours byte ranges (``Range: bytes=a-b``, RFC 9110), sends
UTF-8 as the charset of text, and answers a missing page with the site's ``404.html``.
"""

from __future__ import annotations

import http.server
import os
import re
import shutil
from pathlib import Path
from typing import Any, BinaryIO

TEXT_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".xml": "application/xml", ".vtt": "text/vtt"}


def handler_for(site: Path) -> type[http.server.SimpleHTTPRequestHandler]:
    """A request handler serving ``site`` with byte ranges."""

    class Handler(http.server.SimpleHTTPRequestHandler):
        range_left: int | None = None

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
            path = self.translate_path(self.path)
            if not os.path.exists(path) and (site / "404.html").is_file():
                body = (site / "404.html").read_bytes()
                self.send_response(404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                handle = open(site / "404.html", "rb")  # noqa: SIM115 - the base class closes it
                return handle
            match = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
            if not match or not os.path.isfile(path):
                return super().send_head()
            size = os.path.getsize(path)
            start, end = int(match.group(1)), min(int(match.group(2) or size - 1), size - 1)
            if start >= size or end < start:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.end_headers()
                return None
            handle = open(path, "rb")  # noqa: SIM115 - the base class closes it
            handle.seek(start)
            self.send_response(206)
            self.send_header("Content-Type", self.guess_type(path))
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            self.send_header("Content-Length", str(end - start + 1))
            self.end_headers()
            self.range_left = end - start + 1
            return handle

        def end_headers(self) -> None:
            if self.range_left is None:
                self.send_header("Accept-Ranges", "bytes")
            super().end_headers()

        def copyfile(self, source: BinaryIO, outputfile: BinaryIO) -> None:  # type: ignore[override]
            left = self.range_left
            if left is None:
                shutil.copyfileobj(source, outputfile)
                return
            while left > 0:
                chunk = source.read(min(65536, left))
                if not chunk:
                    break
                outputfile.write(chunk)
                left -= len(chunk)

    return Handler


def make_server(site: Path, host: str = "127.0.0.1", port: int = 8000) -> http.server.ThreadingHTTPServer:
    """A server for ``site`` (not started: call ``serve_forever``); port 0 picks a free one."""
    return http.server.ThreadingHTTPServer((host, port), handler_for(site))
