"""The CONNECT proxy that lets unmodified clients reach the emulator as *.salesforce.com."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from sfbridge.emulators.salesforce.proxy import ConnectProxy
from sfbridge.emulators.salesforce.tls import TlsFiles, ensure_tls

pytestmark = pytest.mark.timeout(30)
TIMEOUT = 5.0


class PingHandler(BaseHTTPRequestHandler):
    """Answers every GET with ``pong <Host header>``."""

    def do_GET(self) -> None:
        body = f"pong {self.headers['Host']}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass


@pytest.fixture
def tls(tmp_path: Path) -> TlsFiles:
    """The emulator's TLS files in a fresh data dir."""
    return ensure_tls(tmp_path)


@pytest.fixture
def https_port(tls: TlsFiles) -> Iterator[int]:
    """A plain HTTPS server with the emulator's certificate, standing in for the emulator."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), PingHandler)
    server.daemon_threads = True
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls.cert_file, tls.key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()
    thread.join(TIMEOUT)


@pytest.fixture
def proxy(https_port: int) -> Iterator[ConnectProxy]:
    """A running proxy that tunnels *.salesforce.com to the HTTPS server."""
    running = ConnectProxy("127.0.0.1", https_port)
    running.start()
    yield running
    running.stop()


def get_through(proxy: ConnectProxy, url: str, ca_bundle: Path) -> requests.Response:
    """GET ``url`` through the proxy, trusting only the emulator's CA, ignoring the environment."""
    with requests.Session() as session:
        session.trust_env = False
        return session.get(url, proxies={"https": proxy.url}, verify=str(ca_bundle), timeout=10)


def exchange(port: int, request: bytes) -> bytes:
    """Send raw bytes to the proxy and read until it closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as connection:
        connection.sendall(request)
        chunks = []
        while chunk := connection.recv(4096):
            chunks.append(chunk)
    return b"".join(chunks)


def port_of(proxy: ConnectProxy) -> int:
    return int(proxy.url.rsplit(":", 1)[1])


@pytest.mark.parametrize(
    "host", ["login.salesforce.com", "test.salesforce.com", "acme.my.salesforce.com"]
)
def test_salesforce_hosts_reach_the_emulator(proxy: ConnectProxy, tls: TlsFiles, host: str) -> None:
    response = get_through(proxy, f"https://{host}/ping", tls.ca_bundle)
    assert response.status_code == 200
    assert response.text == f"pong {host}"


def test_loopback_connects_go_to_the_port_they_name(
    proxy: ConnectProxy, tls: TlsFiles, https_port: int
) -> None:
    response = get_through(proxy, f"https://127.0.0.1:{https_port}/ping", tls.ca_bundle)
    assert response.text == f"pong 127.0.0.1:{https_port}"


@pytest.mark.parametrize(
    "authority",
    [
        "example.org:443",
        "evilsalesforce.com:443",
        "salesforce.com.example.org:443",
        "login.salesforce.com:8443",
        "login.salesforce.com",
    ],
)
def test_other_destinations_are_refused_with_a_reason(proxy: ConnectProxy, authority: str) -> None:
    answer = exchange(port_of(proxy), f"CONNECT {authority} HTTP/1.1\r\n\r\n".encode())
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 403 ")
    assert body.count(b"\n") == 1 and len(body) > 10


def test_plain_proxy_requests_are_not_allowed(proxy: ConnectProxy) -> None:
    answer = exchange(
        port_of(proxy), b"GET http://example.org/ HTTP/1.1\r\nHost: example.org\r\n\r\n"
    )
    assert answer.startswith(b"HTTP/1.1 405 ")
    assert b"Allow: CONNECT" in answer


def test_an_unreachable_emulator_gives_bad_gateway() -> None:
    with socket.create_server(("127.0.0.1", 0)) as placeholder:
        closed_port = placeholder.getsockname()[1]
    proxy = ConnectProxy("127.0.0.1", closed_port)
    proxy.start()
    try:
        answer = exchange(port_of(proxy), b"CONNECT login.salesforce.com:443 HTTP/1.1\r\n\r\n")
    finally:
        proxy.stop()
    assert answer.startswith(b"HTTP/1.1 502 ")


def test_start_is_idempotent_and_stop_frees_the_port(https_port: int) -> None:
    proxy = ConnectProxy("127.0.0.1", https_port)
    port = proxy.start()
    assert proxy.start() == port
    assert proxy.url == f"http://127.0.0.1:{port}"
    proxy.stop()
    proxy.stop()
    with socket.create_server(("127.0.0.1", port)):
        pass  # the port can be bound again
    with pytest.raises(RuntimeError):
        _ = proxy.url


def test_stop_closes_open_tunnels(proxy: ConnectProxy) -> None:
    with socket.create_connection(("127.0.0.1", port_of(proxy)), timeout=TIMEOUT) as tunnel:
        tunnel.sendall(b"CONNECT login.salesforce.com:443 HTTP/1.1\r\n\r\n")
        assert tunnel.recv(1024).startswith(b"HTTP/1.1 200 ")
        proxy.stop()
        assert tunnel.recv(1024) == b""
