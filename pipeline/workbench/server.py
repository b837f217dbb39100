"""The workbench's local server (``pipeline review``): pages, the recording, the API.

Safe by construction: it listens on 127.0.0.1 only; a random token made at each launch opens
it (``/?t=TOKEN`` sets it as a same-site, HTTP-only cookie for the pages) and every change
must also carry it in a header, from the page's own origin, as JSON of at most 2 MB; it
writes only the known editor files of known sessions (:class:`~pipeline.workbench.Workbench`
takes no path from a request), each write atomic and checked against the version the page
showed. Connections are bounded as in ``pipeline serve``.
"""

from __future__ import annotations

import http.server
import json
import secrets
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from jinja2 import Environment, PackageLoader, select_autoescape

from ..errors import PipelineError
from ..site.serve import IDLE_SECONDS, BoundedServer, byte_range, copy_bytes
from . import Conflict, Refused, Workbench
from .export import FORMATS, MEDIA_TYPES, synthesis_blocks, transcript_blocks

MAX_BODY = 2_000_000
COOKIE = "workbench"
STATIC = Path(__file__).parent / "static"
MEDIA_TYPES_PLAYED = {".mp4": "video/mp4", ".m4a": "audio/mp4", ".mp3": "audio/mpeg", ".wav": "audio/wav", ".flac": "audio/flac"}


def handler_for(bench: Workbench, token: str) -> type[http.server.BaseHTTPRequestHandler]:
    """The request handler of one launch (its token)."""
    env = Environment(loader=PackageLoader("pipeline.workbench", "templates"), autoescape=select_autoescape(["html"]))

    class Handler(http.server.BaseHTTPRequestHandler):
        timeout = IDLE_SECONDS
        server_version = "pipeline-review"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            pass

        # -- answers ---------------------------------------------------------------------------
        def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Referrer-Policy", "no-referrer")
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json(self, status: int, data: Any) -> None:
            self._send(status, json.dumps(data, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8")

        def _error(self, status: int, message: str) -> None:
            self._json(status, {"error": message})

        def _page(self, name: str, **context: Any) -> None:
            html = env.get_template(name).render(token=token, **context)
            self._send(HTTPStatus.OK, html.encode("utf-8"), "text/html; charset=utf-8")

        # -- who asks ----------------------------------------------------------------------------
        def _cookie_token(self) -> str:
            for part in (self.headers.get("Cookie") or "").split(";"):
                key, _, value = part.strip().partition("=")
                if key == COOKIE:
                    return value
            return ""

        def _allowed(self, query: dict[str, list[str]]) -> bool:
            offered = (query.get("t") or [""])[0] or self._cookie_token() or self.headers.get("X-Workbench-Token", "")
            return secrets.compare_digest(offered, token)

        def _same_origin(self) -> bool:
            address: Any = self.server.server_address
            host, port = address[0], address[1]
            origins = {f"http://{host}:{port}", f"http://localhost:{port}"}
            origin = self.headers.get("Origin")
            return origin in origins if origin else False

        # -- GET ---------------------------------------------------------------------------------
        def do_GET(self) -> None:  # noqa: N802 - the base class's name
            url = urlparse(self.path)
            query = parse_qs(url.query)
            parts = [unquote(p) for p in url.path.split("/") if p]
            if parts[:1] == ["assets"] and len(parts) == 2 and parts[1] in {"workbench.js", "workbench.css"}:
                kind = "text/javascript" if parts[1].endswith(".js") else "text/css"
                self._send(HTTPStatus.OK, (STATIC / parts[1]).read_bytes(), f"{kind}; charset=utf-8")
                return
            if not self._allowed(query):
                self._send(
                    HTTPStatus.FORBIDDEN,
                    "Accès refusé : ouvrez l'adresse que `pipeline review` a donnée.\n".encode(),
                    "text/plain; charset=utf-8",
                )
                return
            cookie = {"Set-Cookie": f"{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/"} if query.get("t") else None
            try:
                if not parts:
                    html = env.get_template("index.html").render(token=token, sessions=bench.sessions())
                    self._send(HTTPStatus.OK, html.encode("utf-8"), "text/html; charset=utf-8", cookie)
                elif parts[0] == "session" and len(parts) == 2:
                    view = bench.view(parts[1])
                    data = json.dumps(view, ensure_ascii=False).replace("</", "<\\/")  # never a closing tag inside the script
                    html = env.get_template("session.html").render(token=token, view=view, data=data)
                    self._send(HTTPStatus.OK, html.encode("utf-8"), "text/html; charset=utf-8", cookie)
                elif parts[0] == "api" and len(parts) == 3 and parts[1] == "session":
                    self._json(HTTPStatus.OK, bench.view(parts[2]))
                elif parts[0] == "media" and len(parts) == 2:
                    self._media(bench.media(parts[1]))
                elif parts[0] == "export" and len(parts) == 3:
                    self._export(parts[1], parts[2])
                else:
                    self._error(HTTPStatus.NOT_FOUND, "no such page")
            except Refused as exc:
                self._error(HTTPStatus.NOT_FOUND, exc.one_line())
            except PipelineError as exc:
                self._error(HTTPStatus.UNPROCESSABLE_ENTITY, exc.one_line())

        def do_HEAD(self) -> None:  # noqa: N802
            self.do_GET()

        def _media(self, path: Path) -> None:
            size = path.stat().st_size
            kind = MEDIA_TYPES_PLAYED.get(path.suffix.lower(), "application/octet-stream")
            header = self.headers.get("Range", "")
            wanted = byte_range(header, size) if header else (0, size - 1)
            if wanted is None:
                self._send(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE, b"", "text/plain", {"Content-Range": f"bytes */{size}"})
                return
            start, end = wanted
            self.send_response(HTTPStatus.PARTIAL_CONTENT if header else HTTPStatus.OK)
            self.send_header("Content-Type", kind)
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(end - start + 1))
            if header:
                self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            self.end_headers()
            if self.command == "HEAD":
                return
            with path.open("rb") as handle:
                handle.seek(start)
                copy_bytes(handle, self.wfile, end - start + 1)

        def _export(self, session_id: str, name: str) -> None:
            what, _, kind = name.partition(".")
            if what not in {"transcript", "synthesis"} or kind not in FORMATS:
                self._error(HTTPStatus.NOT_FOUND, "no such export")
                return
            view = bench.view(session_id)
            if what == "synthesis":
                if not view["synthesis"]:
                    self._error(HTTPStatus.NOT_FOUND, "no synthesis yet")
                    return
                blocks = synthesis_blocks(view["synthesis"], view["title"])
            else:
                from .. import transcript as transcript_io
                from ..store import Names

                transcript = transcript_io.load(bench.project().store.path(session_id, Names.TRANSCRIPT))
                blocks = transcript_blocks(transcript, view["title"])
            filename = f"{session_id}-{'synthese' if what == 'synthesis' else 'transcription'}.{kind}"
            self._send(
                HTTPStatus.OK, FORMATS[kind](blocks), MEDIA_TYPES[kind], {"Content-Disposition": f'attachment; filename="{filename}"'}
            )

        # -- POST --------------------------------------------------------------------------------
        def do_POST(self) -> None:  # noqa: N802 - the base class's name
            url = urlparse(self.path)
            parts = [unquote(p) for p in url.path.split("/") if p]
            if not secrets.compare_digest(self.headers.get("X-Workbench-Token", ""), token) or not self._same_origin():
                self._error(HTTPStatus.FORBIDDEN, "refused: a change must come from the workbench's own page")
                return
            try:
                length = int(self.headers.get("Content-Length", "-1"))
            except ValueError:
                length = -1
            if length < 0 or length > MAX_BODY:
                self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"refused: a change is at most {MAX_BODY // 1_000_000} MB")
                return
            if not (self.headers.get("Content-Type") or "").startswith("application/json"):
                self._error(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "refused: a change is JSON")
                return
            try:
                body = json.loads(self.rfile.read(length).decode("utf-8"))
                if not isinstance(body, dict):
                    raise ValueError("not an object")
            except (ValueError, UnicodeDecodeError):
                self._error(HTTPStatus.BAD_REQUEST, "refused: not valid JSON")
                return
            if len(parts) != 4 or parts[:2] != ["api", "session"]:
                self._error(HTTPStatus.NOT_FOUND, "no such change")
                return
            session_id, action = parts[2], parts[3]
            try:

                def text(key: str) -> str:
                    return str(body.get(key, ""))

                if action == "paragraph":
                    head = body.get("head")
                    view = bench.save_paragraph(
                        session_id, int(body.get("line", 0)), text("text"), None if head is None else str(head), text("base")
                    )
                elif action == "voice":
                    view = bench.rename_voice(session_id, text("voice"), text("name"), text("base"))
                elif action == "proposal":
                    view = bench.accept_proposal(session_id, text("heard"), text("text"))
                elif action == "synthesis":
                    view = bench.save_synthesis(session_id, text("markdown"), text("base"))
                elif action == "status":
                    view = bench.set_status(session_id, text("status"), text("base"))
                else:
                    self._error(HTTPStatus.NOT_FOUND, "no such change")
                    return
            except Conflict as exc:
                self._error(HTTPStatus.CONFLICT, exc.one_line())
                return
            except Refused as exc:
                self._error(HTTPStatus.NOT_FOUND if "no session" in exc.reason else HTTPStatus.BAD_REQUEST, exc.one_line())
                return
            except PipelineError as exc:
                self._error(HTTPStatus.UNPROCESSABLE_ENTITY, exc.one_line())
                return
            except (TypeError, ValueError) as exc:
                self._error(HTTPStatus.BAD_REQUEST, f"refused: {exc}")
                return
            self._json(HTTPStatus.OK, view)

    return Handler


def make_workbench(bench: Workbench, port: int = 0, token: str | None = None) -> tuple[BoundedServer, str]:
    """A workbench server on 127.0.0.1 (not started), and its address with the token."""
    token = token or secrets.token_urlsafe(24)
    server = BoundedServer(("127.0.0.1", port), handler_for(bench, token))
    return server, f"http://127.0.0.1:{server.server_address[1]}/?t={token}"
