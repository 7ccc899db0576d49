"""Benchmark a contacts sync into the warehouse: the initial run, then an incremental one.

The emulator runs in its own process, on a data dir seeded beforehand (by a
helper child) with only Contacts and what they point at. The initial sync of
--contacts Contacts (about 20 fields) into the built-in SQLite warehouse runs
in a fresh child process so its peak RSS is its own; then --changes contacts
are updated over REST (composite collections, 200 per call) and an
incremental run, in another child, reads them with its clock set past the
settle margin. Prints a table and writes bench/results/sync.json. Not a test.

    .venv/bin/python bench/sync.py                    # 1,000,000 contacts
    .venv/bin/python bench/sync.py --contacts 20000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sfbridge.emulators.salesforce.process import emulator_process
from sfbridge.salesforce import ClientCredentialsGrant, OAuthSession, SalesforceClient
from sfbridge.salesforce.http import HttpOptions

RESULTS = Path(__file__).parent / "results" / "sync.json"
SYNC = "contacts"
CONNECTION = "bench"
# The contacts template's fields plus more Contact fields the emulator seeds:
# with Id and Email (the person's identifiers) the sync reads 20 fields.
FIELDS = (
    "FirstName:first_name",
    "LastName:last_name",
    "Title:title",
    "Phone:phone",
    "AccountId:account_id",
    "MailingCity:city",
    "MailingCountry:country",
    "LeadSource:lead_source",
    "Birthdate:birthdate",
    "Salutation:salutation",
    "Department:department",
    "MobilePhone:mobile_phone",
    "HasOptedOutOfEmail:opted_out_of_email",
    "DoNotCall:do_not_call",
    "ReportsToId:reports_to_id",
    "IsEmailBounced:email_bounced",
    "MailingState:state",
)
# The window ends a settle margin (60 s) before "now": the incremental run's
# clock is this far ahead so the changes just made fall inside it.
LATER = timedelta(minutes=2)


def _client(banner: dict[str, str]) -> SalesforceClient:
    grant = ClientCredentialsGrant(banner["client_id"], banner["client_secret"])
    session = OAuthSession(banner["login_url"], grant)
    return SalesforceClient(session, http=HttpOptions(verify=banner["ca_bundle"]))


def _rss_mb() -> int:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def seed(data_dir: Path, contacts: int) -> dict[str, Any]:
    """Seed only Contacts (and what they need) into the org kept in ``data_dir``."""
    from sfbridge.emulators.salesforce.org import Org
    from sfbridge.emulators.salesforce.seed import seed_org

    org = Org.open(data_dir)
    try:
        report = seed_org(org, contacts, seed=3, only={"Contact"})
    finally:
        close = getattr(org.store, "close", None)
        if close is not None:
            close()
    return {"counts": dict(report.counts), "seconds": report.seconds}


def phase(name: str, banner: dict[str, str], home: Path) -> dict[str, Any]:
    """Run one measured phase (``initial`` or ``incremental``) in this process."""
    from sfbridge.config import Settings
    from sfbridge.connect.salesforce import ConnectOptions, connect, open_client
    from sfbridge.destinations import RunInfo
    from sfbridge.store import AuthFlow, ConnectionStore, Database, Environment, SyncStore
    from sfbridge.sync.run import run_sync
    from sfbridge.sync.service import WAREHOUSE, Project, add_sync, build_spec, open_destinations

    database = Database.open(Settings(home=home, secret_key=None, database_url=None))
    try:
        connections, syncs = ConnectionStore(database), SyncStore(database)
        known = Project().destination_specs()
        extra: dict[str, Any] = {}
        if name == "initial":
            options = ConnectOptions(
                name=CONNECTION,
                environment=Environment.CUSTOM,
                login_url=banner["login_url"],
                flow=AuthFlow.CLIENT_CREDENTIALS,
                client_id=banner["client_id"],
                client_secret=banner["client_secret"],
                ca_bundle=banner["ca_bundle"],
            )
            connect(connections, options, open_browser=lambda url: None)[1].close()
        with open_client(connections, CONNECTION) as client:
            if name == "initial":
                spec = build_spec(
                    SYNC,
                    connection=CONNECTION,
                    template_name="contacts",
                    fields=FIELDS,
                    destinations=(WAREHOUSE,),
                )
                added = add_sync(syncs, client, spec, known)
                syncs.set_enabled(SYNC, True)
                extra = {
                    "fields_read": len(spec.read_fields),
                    "expected_records": added.count,
                    "setup_api_calls": client.api_calls,
                }
                now = lambda: datetime.now(UTC)  # noqa: E731 - a clock
            elif name == "incremental":
                now = lambda: datetime.now(UTC) + LATER  # noqa: E731 - a clock
            else:
                raise SystemExit(f"unknown phase {name!r}")
            spec = syncs.get(SYNC).spec
            destinations = open_destinations(
                spec, known, RunInfo(sync=SYNC, run_id=f"bench-{name}", home=home)
            )
            started = time.perf_counter()
            try:
                summary = run_sync(
                    spec, client=client, destinations=destinations, state=syncs, now=now
                )
            finally:
                for destination in destinations:
                    destination.close()
            seconds = time.perf_counter() - started
    finally:
        database.close()
    counts = summary.counts
    return {
        "status": str(summary.status),
        "api": None if summary.api is None else str(summary.api),
        "error": summary.error,
        "records_read": counts.records_read,
        "delivered": counts.delivered,
        "failed": counts.failed,
        "seconds": round(seconds, 2),
        "records_per_second": round(counts.records_read / seconds) if seconds else 0,
        "api_calls": counts.api_calls,
        "peak_rss_mb": _rss_mb(),
        **extra,
    }


def change(banner: dict[str, str], count: int) -> dict[str, Any]:
    """Update ``count`` contacts that have an email (so the sync sends them), 200 per call."""
    with _client(banner) as sf:
        sf.connect()
        ids = [
            r["Id"] for r in sf.query(f"SELECT Id FROM Contact WHERE Email != null LIMIT {count}")
        ]
        calls = sf.api_calls
        started = time.perf_counter()
        stamp = datetime.now(UTC).strftime("%H%M%S")
        results = sf.update_records(
            "Contact", [{"Id": i, "Title": f"Bench {stamp} {n}"} for n, i in enumerate(ids)]
        )
        return {
            "changed": sum(1 for r in results if r.success),
            "seconds": round(time.perf_counter() - started, 2),
            "api_calls": sf.api_calls - calls,
        }


def _child(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, env=os.environ
    )
    if done.returncode != 0:
        raise SystemExit(f"child {args[:2]} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _machine() -> dict[str, Any]:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = None
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory = round(pages / 1024**3, 1)
    except (ValueError, OSError):
        pass
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "memory_gb": memory,
        "sqlite": sqlite3.sqlite_version,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--changes", type=int, default=1_000)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--banner", help=argparse.SUPPRESS)
    parser.add_argument("--home", help=argparse.SUPPRESS)
    parser.add_argument("--seed-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.seed_dir:
        print(json.dumps(seed(Path(args.seed_dir), args.contacts)))
        return
    if args.phase:
        print(json.dumps(phase(args.phase, json.loads(args.banner), Path(args.home))))
        return

    results: dict[str, Any] = {
        "machine": _machine(),
        "contacts": args.contacts,
        "changes": args.changes,
    }
    root = Path(tempfile.mkdtemp(prefix="sfbridge-bench-sync-"))
    data_dir, home = root / "org", root / "home"
    home.mkdir(parents=True)
    try:
        started = time.perf_counter()
        results["seed"] = _child("--seed-dir", str(data_dir), "--contacts", str(args.contacts))
        print(f"seeded {args.contacts:,} contacts in {time.perf_counter() - started:.0f} s")
        with emulator_process(data_dir) as banner:
            common = ("--banner", json.dumps(banner), "--home", str(home))
            results["initial"] = _child("--phase", "initial", *common)
            print(f"initial: {results['initial']}")
            results["change"] = change(banner, args.changes)
            print(f"change: {results['change']}")
            results["incremental"] = _child("--phase", "incremental", *common)
            print(f"incremental: {results['incremental']}")
        with sqlite3.connect(home / "warehouse.sqlite") as db:
            results["warehouse_people"] = int(
                db.execute("SELECT COUNT(*) FROM people").fetchone()[0]
            )
        results["warehouse_mb"] = round((home / "warehouse.sqlite").stat().st_size / 1024**2)
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    header = (
        f"{'run':<13}{'read':>11}{'delivered':>11}{'seconds':>9}{'records/s':>11}"
        f"{'API calls':>11}{'peak RSS':>10}"
    )
    print("\n" + header)
    for name in ("initial", "incremental"):
        r = results[name]
        print(
            f"{name:<13}{r['records_read']:>11,}{r['delivered']:>11,}{r['seconds']:>9}"
            f"{r['records_per_second']:>11,}{r['api_calls']:>11,}{r['peak_rss_mb']:>8} MB"
        )
    print(
        f"\n{args.contacts:,} contacts, {results['initial'].get('fields_read')} fields; "
        f"{results['change']['changed']:,} changed in {results['change']['api_calls']} API calls; "
        f"warehouse people: {results['warehouse_people']:,} ({results['warehouse_mb']} MB)"
    )
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
