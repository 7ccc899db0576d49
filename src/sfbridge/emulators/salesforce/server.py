"""Serving the emulated org over HTTPS (or HTTP) with uvicorn, in the foreground or a thread.

``start_emulator`` is what tests, the demo and benchmarks use: it binds a
loopback port, starts uvicorn in a background thread and returns a
``RunningEmulator`` with every URL and credential a client needs.
``serve_forever`` is the ``sfbridge emulate salesforce`` command's loop.
"""

from __future__ import annotations

import socket
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import uvicorn

from .app import MAX_REQUEST_HEAD_BYTES, EmulatorApp, create_app
from .oauth import AuthService, DefaultCredentials
from .org import Org
from .proxy import ConnectProxy
from .seed import SeedReport, seed_org
from .tls import TlsFiles, ensure_tls

LOOPBACK = "127.0.0.1"


@dataclass
class RunningEmulator:
    """A started emulator: its org, URLs, credentials and how to stop it."""

    org: Org
    app: EmulatorApp
    port: int
    scheme: str
    credentials: DefaultCredentials
    tls: TlsFiles | None
    seed_report: SeedReport | None = None
    proxy: ConnectProxy | None = None
    _server: uvicorn.Server | None = field(default=None, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def instance_url(self) -> str:
        return f"{self.scheme}://{LOOPBACK}:{self.port}"

    @property
    def login_url(self) -> str:
        return self.instance_url

    @property
    def sandbox_login_url(self) -> str:
        return f"{self.instance_url}/sandbox"

    def trust(self) -> ssl.SSLContext | bool:
        """What an httpx client passes as ``verify`` to trust this emulator."""
        if self.tls is None:
            return False
        return ssl.create_default_context(cafile=str(self.tls.ca_bundle))

    def access_token(self) -> str:
        """Log in over the network with the default app's client credentials."""
        creds = self.credentials
        response = httpx.post(
            f"{self.login_url}/services/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": creds.client_id,
                "client_secret": creds.client_secret,
            },
            verify=self.trust(),
            timeout=30,
        )
        response.raise_for_status()
        return str(response.json()["access_token"])

    def banner(self) -> dict[str, str]:
        """The ``key: value`` facts printed at start (and by ``--json``)."""
        facts = {
            "instance_url": self.instance_url,
            "login_url": self.login_url,
            "sandbox_login_url": self.sandbox_login_url,
            "ca_bundle": str(self.tls.ca_bundle) if self.tls else "",
            "client_id": self.credentials.client_id,
            "client_secret": self.credentials.client_secret,
            "username": self.credentials.username,
            "password": self.credentials.password,
            "security_token": self.credentials.security_token,
            "refresh_token": self.credentials.refresh_token,
            "jwt_key_file": str(self.credentials.jwt_key_file or ""),
            "https_proxy": self.proxy.url if self.proxy else "",
            "data_dir": str(self.org.data_dir or ""),
        }
        return facts

    def stop(self) -> None:
        """Stop serving and close the org."""
        if self.proxy is not None:
            self.proxy.stop()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.org.close()


def _bind(port: int) -> socket.socket:
    # IPPROTO_TCP spelled out: asyncio only disables Nagle's algorithm (TCP_NODELAY)
    # on accepted sockets whose protocol says TCP; with 0 each answer stalls ~40 ms.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((LOOPBACK, port))
    sock.listen(512)
    return sock


def prepare(
    data_dir: Path | None,
    *,
    port: int = 0,
    tls: bool = True,
    seed: str | int | None = None,
    seed_value: int = 1,
    schema_file: Path | None = None,
    proxy: bool = True,
) -> tuple[RunningEmulator, socket.socket]:
    """Open the org, seed it if empty, bind the port; nothing is served yet."""
    org = Org.open(data_dir, schema_file=schema_file)
    report = None
    if seed is not None and org.count("Contact", include_deleted=True) == 0:
        report = seed_org(org, seed, seed=seed_value)
    auth = AuthService(org, data_dir)
    credentials = auth.ensure_defaults()
    tls_files = (
        ensure_tls(data_dir or Path(tempfile.mkdtemp(prefix="sfbridge-tls-"))) if tls else None
    )
    sock = _bind(port)
    bound = sock.getsockname()[1]
    scheme = "https" if tls else "http"
    running = RunningEmulator(
        org=org,
        app=create_app(org, auth, lambda: f"{scheme}://{LOOPBACK}:{bound}"),
        port=bound,
        scheme=scheme,
        credentials=credentials,
        tls=tls_files,
        seed_report=report,
    )
    if proxy and tls:
        running.proxy = ConnectProxy(LOOPBACK, bound)
        running.proxy.start()
    return running, sock


def _server(running: RunningEmulator) -> uvicorn.Server:
    config = uvicorn.Config(
        running.app.asgi,
        log_level="warning",
        lifespan="off",
        ssl_certfile=str(running.tls.cert_file) if running.tls else None,
        ssl_keyfile=str(running.tls.key_file) if running.tls else None,
        timeout_keep_alive=30,
        # h11 refuses a request head over 16 KiB itself, with a bare 400; let
        # the app answer an org's 414 / 431 instead (app.RequestHeadLimitMiddleware).
        h11_max_incomplete_event_size=4 * MAX_REQUEST_HEAD_BYTES,
        # Stopping must not wait for clients that keep idle connections open.
        timeout_graceful_shutdown=1,
        access_log=False,
    )
    return uvicorn.Server(config)


def start_emulator(data_dir: Path | None = None, **options: object) -> RunningEmulator:
    """Start serving in a background thread; returns once the port accepts requests."""
    running, sock = prepare(data_dir, **options)  # type: ignore[arg-type]
    server = _server(running)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"the emulator did not start on port {running.port}")
        time.sleep(0.02)
    running._server, running._thread = server, thread
    return running


def serve_forever(running: RunningEmulator, sock: socket.socket) -> None:
    """Serve in the foreground until interrupted (Ctrl-C)."""
    server = _server(running)
    running._server = server
    try:
        server.run(sockets=[sock])
    finally:
        running.stop()
