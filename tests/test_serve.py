"""`pipeline serve` serves the site and nothing else, and stays up: links out of the site,
traversal, folder listings, idle connections beyond the cap and unreadable ranges are each
refused, and a normal request is answered afterwards."""

from __future__ import annotations

import http.client
import socket
import threading
import time
from pathlib import Path

import pytest

from pipeline.site import serve
from pipeline.site.serve import make_server


@pytest.fixture
def served(tmp_path: Path):
    site = tmp_path / "site"
    (site / "sessions" / "s-1").mkdir(parents=True)
    (site / "assets").mkdir()
    (site / "index.html").write_text("<p>Accueil</p>", encoding="utf-8")
    (site / "404.html").write_text("<p>Page introuvable</p>", encoding="utf-8")
    (site / "sessions" / "s-1" / "index.html").write_text("<p>Séance</p>", encoding="utf-8")
    (site / "assets" / "media.bin").write_bytes(bytes(range(256)) * 40)
    secret = tmp_path / "secret.txt"
    secret.write_text("hors du site", encoding="utf-8")
    (site / "lien").symlink_to(secret)
    (site / "dossier-lien").symlink_to(tmp_path)
    server = make_server(site, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def ask(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.request("GET", path, headers=headers or {})
    answer = connection.getresponse()
    body = answer.read()
    connection.close()
    return answer.status, body


def raw(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        return sock.recv(4096)


@pytest.mark.parametrize(
    "path",
    ["/lien", "/dossier-lien/secret.txt", "/../secret.txt", "/%2e%2e/secret.txt", "/sessions/../../secret.txt", "/..%2fsecret.txt"],
)
def test_nothing_outside_the_site_is_served(served: int, path: str):
    status, body = ask(served, path)
    assert status == 404 and b"hors du site" not in body
    assert ask(served, "/")[0] == 200


def test_a_folder_is_served_by_its_index_and_never_listed(served: int):
    assert ask(served, "/sessions/s-1/") == (200, "<p>Séance</p>".encode())
    status, body = ask(served, "/sessions/")
    assert status == 404 and b"Page introuvable" in body and b"s-1" not in body
    status, _ = ask(served, "/assets/")
    assert status == 404


@pytest.mark.parametrize("header", ["bytes=" + "9" * 5000 + "-", "bytes=1-2,5-9", "octets=1-2", "bytes=999999-"])
def test_an_unreadable_or_unsatisfiable_range_is_a_416(served: int, header: str):
    status, _ = ask(served, "/assets/media.bin", {"Range": header})
    assert status == 416
    status, body = ask(served, "/assets/media.bin", {"Range": "bytes=10-19"})
    assert status == 206 and body == bytes(range(10, 20))


def test_idle_connections_beyond_the_cap_get_a_503_and_the_server_still_answers(served: int, monkeypatch: pytest.MonkeyPatch):
    idle = [socket.create_connection(("127.0.0.1", served), timeout=5) for _ in range(serve.MAX_CONNECTIONS)]
    try:
        time.sleep(0.3)
        assert raw(served, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").startswith(b"HTTP/1.1 503")
        assert threading.active_count() < serve.MAX_CONNECTIONS + 10
    finally:
        for sock in idle:
            sock.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            if ask(served, "/")[0] == 200:
                break
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.1)
    assert ask(served, "/")[0] == 200


def test_an_idle_connection_is_closed_after_the_timeout(served: int, monkeypatch: pytest.MonkeyPatch):
    assert serve.IDLE_SECONDS <= 15
    sock = socket.create_connection(("127.0.0.1", served), timeout=serve.IDLE_SECONDS + 5)
    started = time.monotonic()
    assert sock.recv(10) == b""  # the server closes it without an answer
    assert time.monotonic() - started < serve.IDLE_SECONDS + 4
    sock.close()
