"""A user behind a proxy: the API calls, uploads, the job's websocket and the result download all
go through the proxy named in the environment (HTTP(S)_PROXY, as requests and websocket-client
read it), and the presigned download URL reaches it byte for byte."""
from __future__ import annotations

import contextlib
import socket
import threading
from urllib.parse import urlsplit

import pytest
from support import EDIT, defaults, image, run


class Proxy:
    """A minimal HTTP proxy on loopback: absolute-URI requests (plain HTTP through a proxy, one
    request per connection) and CONNECT tunnels (what websocket-client opens). Records the
    request line of everything that passed."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        self.seen: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self.server.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with contextlib.closing(conn):
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, rest = data.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            method, target, version = lines[0].split(" ")
            with self._lock:
                self.seen.append((method, target))
            if method == "CONNECT":
                host, port = target.rsplit(":", 1)
                upstream = socket.create_connection((host, int(port)))
                conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                first = rest
            else:
                url = urlsplit(target)
                upstream = socket.create_connection((url.hostname, url.port or 80))
                headers = [h for h in lines[1:] if h.split(":")[0].lower() not in ("connection", "proxy-connection")]
                origin = url.path + (f"?{url.query}" if url.query else "")
                first = "\r\n".join([f"{method} {origin} {version}", *headers, "Connection: close", "", ""]).encode(
                    "latin-1") + rest
            with contextlib.closing(upstream):
                upstream.sendall(first)
                back = threading.Thread(target=self._pipe, args=(upstream, conn), daemon=True)
                back.start()
                self._pipe(conn, upstream)
                back.join(10)

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while chunk := src.recv(65536):
                dst.sendall(chunk)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)


@pytest.fixture
def proxy(monkeypatch):
    p = Proxy()
    for name in ("http_proxy", "https_proxy", "no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", p.url)    # the simulator is http:// and ws://
    yield p
    p.close()


def test_a_whole_job_goes_through_the_proxy_in_the_environment(comfy, sim, proxy):
    out = run(EDIT, unique_id="1", image=image(seed=21), **{**defaults(EDIT), "prompt": "through a proxy"})
    assert out["result"][0].shape == (1, 32, 48, 3)
    host = urlsplit(sim.base_url).netloc
    sent = [(m, urlsplit(t).netloc, urlsplit(t).path) for m, t in proxy.seen if m != "CONNECT"]
    assert ("POST", host, "/upload") in sent and ("POST", host, "/prompts/edit-image") in sent
    assert ("CONNECT", host) in proxy.seen and sim.state.counters.ws_connections >= 1   # the websocket, tunnelled
    downloads = [t for m, t in proxy.seen if m == "GET" and urlsplit(t).path.startswith("/files/")]
    # The simulator refuses a presigned URL whose query changed by one byte: served means intact.
    assert len(downloads) == 1 and "X-Amz-Signature=" in downloads[0] and sim.state.counters.downloads == 1


def test_no_proxy_is_honoured_for_every_connection(comfy, sim, proxy, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    run(EDIT, unique_id="1", image=image(seed=22), **{**defaults(EDIT), "prompt": "direct"})
    assert proxy.seen == [] and sim.state.counters.downloads == 1


def test_a_dead_proxy_is_a_network_error_that_names_the_proxy_variables(client, monkeypatch):
    from nodes.errors import NetworkError

    dead = socket.create_server(("127.0.0.1", 0))
    port = dead.getsockname()[1]
    dead.close()                                   # nothing listens there any more
    for name in ("http_proxy", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
    with pytest.raises(NetworkError) as e:
        client.me()
    assert "HTTPS_PROXY / NO_PROXY" in str(e.value) and "WSS_PROXY" not in str(e.value)
