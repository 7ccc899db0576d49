"""A loopback HTTP CONNECT proxy that sends ``*.salesforce.com`` to the emulator.

Unmodified clients (simple-salesforce, Airbyte, tap-salesforce) log in at
``https://login.salesforce.com`` or ``https://{domain}.salesforce.com`` no
matter what (reference salesforce-api.md §0), but they honour
``HTTPS_PROXY``. Pointed at this proxy, their ``CONNECT login.salesforce.com:443``
becomes a byte pipe to the emulator's TLS port; the TLS handshake then runs end
to end with the emulator's certificate, whose names cover ``*.salesforce.com``.

Loopback CONNECTs (``127.0.0.1``, ``::1``, ``localhost``) go to the port they
name, so a client whose ``instance_url`` is the emulator's own address works
with or without ``NO_PROXY``. Every other host is refused with 403: nothing
ever reaches the internet. Plain HTTP proxy requests get 405.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from concurrent.futures import Future

logger = logging.getLogger(__name__)

_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
_HEAD_TIMEOUT = 10.0  # seconds for a client to send its CONNECT line
_CONNECT_TIMEOUT = 10.0  # seconds to reach the emulator
_STOP_TIMEOUT = 5.0
_BUFFER = 64 * 1024


class ConnectProxy:
    """An HTTP CONNECT proxy on a loopback port, served from a background thread."""

    def __init__(
        self,
        target_host: str,
        target_port: int,
        listen_host: str = "127.0.0.1",
        listen_port: int = 0,
    ) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.listen_host = listen_host
        self.listen_port = listen_port
        self._port: int | None = None
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._tunnels: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        """The proxy URL for ``HTTPS_PROXY``, e.g. ``http://127.0.0.1:53122``."""
        if self._port is None:
            raise RuntimeError("the proxy is not running; call start() first")
        host = f"[{self.listen_host}]" if ":" in self.listen_host else self.listen_host
        return f"http://{host}:{self._port}"

    def start(self) -> int:
        """Listen and serve in a background thread; returns the bound port. Idempotent."""
        with self._lock:
            if self._port is not None:
                return self._port
            loop = asyncio.new_event_loop()
            ready: Future[int] = Future()
            thread = threading.Thread(
                target=self._serve, args=(loop, ready), name="sfbridge-connect-proxy", daemon=True
            )
            thread.start()
            port = ready.result(_STOP_TIMEOUT)  # raises the bind error, e.g. port in use
            self._loop, self._thread, self._port = loop, thread, port
            logger.info("CONNECT proxy on %s for the emulator at %s", self.url, self.target_port)
            return port

    def stop(self) -> None:
        """Close the listening socket and every open tunnel, then end the thread."""
        with self._lock:
            loop, thread = self._loop, self._thread
            if loop is None or thread is None:
                return
            with contextlib.suppress(RuntimeError, TimeoutError):
                asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(_STOP_TIMEOUT)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(_STOP_TIMEOUT)
            self._loop = self._thread = self._server = None
            self._port = None

    # -- the event loop thread -------------------------------------------------

    def _serve(self, loop: asyncio.AbstractEventLoop, ready: Future[int]) -> None:
        asyncio.set_event_loop(loop)
        try:
            if loop.run_until_complete(self._listen(ready)):
                loop.run_forever()
        finally:
            loop.close()

    async def _listen(self, ready: Future[int]) -> bool:
        try:
            self._server = await asyncio.start_server(
                self._accept, self.listen_host, self.listen_port, limit=_BUFFER
            )
        except OSError as error:
            ready.set_exception(error)
            return False
        ready.set_result(self._server.sockets[0].getsockname()[1])
        return True

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tunnels):
            task.cancel()
        await asyncio.gather(*self._tunnels, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tunnels.add(task)
        try:
            await self._handle(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # the client went away or sent garbage; nothing to answer
        finally:
            self._tunnels.discard(task)
            await _close(writer)

    async def _handle(
        self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter
    ) -> None:
        try:
            head = await asyncio.wait_for(client_in.readuntil(b"\r\n\r\n"), _HEAD_TIMEOUT)
        except TimeoutError:
            await _answer(client_out, 408, "Request Timeout", "no CONNECT request within 10 s")
            return
        method, _, rest = head.decode("latin-1").partition(" ")
        authority = rest.partition(" ")[0]
        if method.upper() != "CONNECT":
            await _answer(
                client_out,
                405,
                "Method Not Allowed",
                f"this proxy only tunnels HTTPS (CONNECT); got {method!r}",
                extra="Allow: CONNECT\r\n",
            )
            return
        host, port = _split_authority(authority)
        destination, refusal = self._destination(host, port)
        if destination is None:
            logger.warning("CONNECT %s refused: %s", authority, refusal)
            await _answer(client_out, 403, "Forbidden", refusal)
            return
        try:
            server_in, server_out = await asyncio.wait_for(
                asyncio.open_connection(*destination, limit=_BUFFER), _CONNECT_TIMEOUT
            )
        except (OSError, TimeoutError) as error:
            await _answer(client_out, 502, "Bad Gateway", f"cannot reach {authority}: {error}")
            return
        client_out.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await client_out.drain()
        try:
            await asyncio.gather(
                _pipe(client_in, server_out, client_out), _pipe(server_in, client_out, server_out)
            )
        finally:
            await _close(server_out)

    def _destination(self, host: str, port: int | None) -> tuple[tuple[str, int] | None, str]:
        """Where a CONNECT goes, or None and the one-line reason it is refused."""
        if port is None or not host:
            return None, "expected CONNECT host:port"
        if host in _LOOPBACK:
            return (host, port), ""
        if host == "salesforce.com" or host.endswith(".salesforce.com"):
            if port != 443:
                return None, f"{host}:{port}: only port 443 of *.salesforce.com is emulated"
            return (self.target_host, self.target_port), ""
        return None, f"{host}: only *.salesforce.com and loopback are reachable through sfbridge"


def _split_authority(authority: str) -> tuple[str, int | None]:
    """``host:port`` or ``[v6]:port`` -> (lower-case host, port or None)."""
    host, _, port = authority.rpartition(":")
    host = host.removeprefix("[").removesuffix("]").lower().rstrip(".")
    return host, int(port) if port.isdigit() and 0 < int(port) < 65536 else None


async def _pipe(
    source: asyncio.StreamReader, sink: asyncio.StreamWriter, source_writer: asyncio.StreamWriter
) -> None:
    """Copy bytes until EOF, then half-close; on a broken connection, close both ends."""
    try:
        while data := await source.read(_BUFFER):
            sink.write(data)
            await sink.drain()
        if sink.can_write_eof():
            sink.write_eof()
    except (ConnectionError, OSError):
        # One side vanished: closing both makes the other direction finish too.
        sink.close()
        source_writer.close()


async def _answer(
    writer: asyncio.StreamWriter, status: int, phrase: str, reason: str, *, extra: str = ""
) -> None:
    body = f"{reason}\n".encode()
    writer.write(
        f"HTTP/1.1 {status} {phrase}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n{extra}Connection: close\r\n\r\n".encode()
        + body
    )
    with contextlib.suppress(ConnectionError):
        await writer.drain()


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(ConnectionError, OSError):
        await writer.wait_closed()
