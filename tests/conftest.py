"""Project-wide fixtures: a real emulator served over HTTPS on a loopback port."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sfbridge.emulators.salesforce.server import RunningEmulator, start_emulator


@pytest.fixture(scope="session")
def sf_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    """An emulated org with 6,000 seeded contacts, served over HTTPS with its CONNECT proxy."""
    data_dir: Path = tmp_path_factory.mktemp("sf-org")
    running = start_emulator(data_dir, seed=6000, seed_value=7)
    yield running
    running.stop()


@pytest.fixture
def sf_client_env(sf_server: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> RunningEmulator:
    """What an unmodified client needs: trust the CA, reach *.salesforce.com via the proxy."""
    assert sf_server.tls is not None and sf_server.proxy is not None
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(sf_server.tls.ca_bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(sf_server.tls.ca_bundle))
    monkeypatch.setenv("HTTPS_PROXY", sf_server.proxy.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    return sf_server
