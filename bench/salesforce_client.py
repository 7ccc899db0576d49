"""Benchmark the Salesforce client: Bulk API 2.0 vs REST, for reading and for upserting.

The emulator runs in its own process (seeded with --contacts contacts); each
measured phase runs in a fresh child process so its peak RSS is its own.
Prints a table and writes bench/results/salesforce_client.json. Not a test.

    .venv/bin/python bench/salesforce_client.py                   # 1,000,000 contacts
    .venv/bin/python bench/salesforce_client.py --contacts 100000 --upserts 20000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sfbridge.emulators.salesforce.process import emulator_process
from sfbridge.salesforce import ClientCredentialsGrant, OAuthSession, SalesforceClient
from sfbridge.salesforce.http import HttpOptions

RESULTS = Path(__file__).parent / "results" / "salesforce_client.json"
FIELDS = "Id, FirstName, LastName, Email, Title, AccountId, MailingCity, SystemModstamp"


def _client(banner: dict[str, str]) -> SalesforceClient:
    grant = ClientCredentialsGrant(banner["client_id"], banner["client_secret"])
    session = OAuthSession(banner["login_url"], grant)
    return SalesforceClient(session, http=HttpOptions(verify=banner["ca_bundle"]))


def _records(count: int, prefix: str) -> list[dict[str, Any]]:
    return [
        {"Bench_Id__c": f"{prefix}-{i}", "LastName": f"Bench {i}", "Email": f"b{i}@example.com"}
        for i in range(count)
    ]


def phase(name: str, banner: dict[str, str], size: int) -> dict[str, Any]:
    """Run one measured phase in this process; returns its numbers."""
    with _client(banner) as sf:
        sf.connect()
        started = time.perf_counter()
        if name == "bulk_query":
            rows = sum(1 for _ in sf.bulk_query(f"SELECT {FIELDS} FROM Contact").records())
        elif name == "rest_query":
            rows = sum(1 for _ in sf.query(f"SELECT {FIELDS} FROM Contact"))
        elif name == "bulk_upsert":
            results = sf.bulk_ingest(
                "Contact", "upsert", _records(size, "bulk"), external_id_field="Bench_Id__c"
            ).results
            rows = sum(1 for r in results if r.success)
        elif name == "collections_upsert":
            results = sf.upsert_records("Contact", "Bench_Id__c", _records(size, "rest"))
            rows = sum(1 for r in results if r.success)
        else:
            raise SystemExit(f"unknown phase {name!r}")
        seconds = time.perf_counter() - started
        return {
            "rows": rows,
            "seconds": round(seconds, 2),
            "records_per_second": round(rows / seconds),
            "api_calls": sf.api_calls,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        }


def _prepare(banner: dict[str, str]) -> None:
    """The external id field the upserts match on."""
    with _client(banner) as sf:
        sf.create_custom_field(
            "Contact",
            "Bench_Id__c",
            "Text",
            label="Bench Id",
            length=40,
            external_id=True,
            unique=True,
            exists_ok=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--upserts", type=int, default=100_000)
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--banner", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(phase(args.phase, json.loads(args.banner), args.upserts)))
        return

    started = time.perf_counter()
    results: dict[str, Any] = {"contacts": args.contacts, "upserts": args.upserts}
    data_dir = Path(tempfile.mkdtemp(prefix="sfbridge-bench-client-"))
    with emulator_process(data_dir, "--seed", str(args.contacts)) as banner:
        seeded = time.perf_counter() - started
        print(f"emulator seeded with {args.contacts:,} contacts in {seeded:.0f} s")
        _prepare(banner)
        for name in ("bulk_query", "rest_query", "bulk_upsert", "collections_upsert"):
            child = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--phase",
                    name,
                    "--banner",
                    json.dumps(banner),
                    "--upserts",
                    str(args.upserts),
                ],
                capture_output=True,
                text=True,
                check=True,
                env=os.environ,
            )
            results[name] = json.loads(child.stdout.strip().splitlines()[-1])
            print(f"{name}: {results[name]}")

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    header = (
        f"{'phase':<22}{'rows':>12}{'seconds':>10}{'records/s':>12}{'API calls':>11}"
        f"{'peak RSS':>10}"
    )
    print("\n" + header)
    for name in ("bulk_query", "rest_query", "bulk_upsert", "collections_upsert"):
        r = results[name]
        print(
            f"{name:<22}{r['rows']:>12,}{r['seconds']:>10}{r['records_per_second']:>12,}"
            f"{r['api_calls']:>11,}{r['peak_rss_mb']:>8} MB"
        )
    print(f"\nwritten to {RESULTS}")


if __name__ == "__main__":
    main()
