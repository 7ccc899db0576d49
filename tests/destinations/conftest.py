"""Fixtures for destinations: run info in a fresh home, and a PostgreSQL server of our own.

PostgreSQL is never assumed: the ``postgres_server`` fixture installs the
Debian package when its programs are missing (as root, with apt-get), creates
a throwaway cluster, starts it on a free loopback port and removes it at the
end of the session. Only tests that ask for it pay for it.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from itertools import count
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from sfbridge.destinations import RunInfo

_SCHEMA_NUMBERS = count(1)


@pytest.fixture
def run(tmp_path: Path) -> RunInfo:
    """A sync run whose home folder is fresh."""
    return RunInfo(sync="contacts", run_id="run-1", home=tmp_path / "home")


def _postgres_bin_dir() -> Path | None:
    # Debian keeps the server programs out of PATH, under /usr/lib/postgresql/<major>/bin.
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def _install_postgres() -> Path:
    if os.geteuid() != 0:
        pytest.fail("PostgreSQL is not installed; run: sudo apt-get install -y postgresql")
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update"], check=True, capture_output=True, env=environment)
    subprocess.run(
        ["apt-get", "install", "-y", "--no-install-recommends", "postgresql"],
        check=True,
        capture_output=True,
        env=environment,
    )
    bin_dir = _postgres_bin_dir()
    assert bin_dir is not None, "apt-get installed postgresql but initdb is not found"
    return bin_dir


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A running PostgreSQL server for this session; yields its admin URL (trust auth)."""
    bin_dir = _postgres_bin_dir() or _install_postgres()
    # initdb refuses to run as root: run the server programs as the package's user.
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    # Not under pytest's temp folder: its root-only mode would lock the postgres user out.
    cluster = Path(tempfile.mkdtemp(prefix="sfbridge-pg-"))
    if as_user:
        shutil.chown(cluster, "postgres", "postgres")
    data = cluster / "data"
    port = _free_port()

    def server_program(*arguments: str) -> None:
        subprocess.run([*as_user, *arguments], check=True, capture_output=True, cwd=cluster)

    try:
        server_program(
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-locale",
            "--no-sync",
        )
        # fsync off: a test cluster needs no crash safety, and it halves commit time.
        options = f"-p {port} -k {cluster} -c listen_addresses=127.0.0.1 -c fsync=off"
        server_program(
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(cluster / "server.log"),
            "-o",
            options,
            "-w",
            "start",
        )
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        if (data / "postmaster.pid").exists():
            server_program(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(cluster, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def warehouse_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of an empty warehouse database: a SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    admin_url: str = request.getfixturevalue("postgres_server")
    # A schema per test, not a database: CREATE DATABASE takes a third of a second.
    schema = f"test_{next(_SCHEMA_NUMBERS)}"
    admin = create_engine(admin_url)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    admin.dispose()
    return f"{admin_url}?options=-csearch_path%3D{schema}"
