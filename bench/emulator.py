"""Benchmark the Salesforce org emulator: seeding, REST query paging, incremental window queries.

Prints a table and writes bench/results/emulator.json. Not a test: it measures.

    .venv/bin/python bench/emulator.py                 # 1,000,000 contacts (a few minutes)
    .venv/bin/python bench/emulator.py --contacts 100000
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from sfbridge.emulators.salesforce.seed import seed_org
from sfbridge.emulators.salesforce.server import start_emulator

RESULTS = Path(__file__).parent / "results" / "emulator.json"
VERSION = "v62.0"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument(
        "--page-rows", type=int, default=100_000, help="rows read through REST query paging"
    )
    parser.add_argument("--window-runs", type=int, default=50)
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="sfbridge-bench-"))
    running = start_emulator(data_dir, proxy=False)
    org = running.org
    results: dict[str, object] = {
        "machine": {"python": sys.version.split()[0], "platform": platform.platform(), "cpus": 2},
        "contacts": args.contacts,
    }

    started = time.perf_counter()
    report = seed_org(org, args.contacts, seed=3, only={"Contact"})
    seed_seconds = time.perf_counter() - started
    results["seed"] = {
        "seconds": round(seed_seconds, 1),
        "contacts_per_second": round(args.contacts / seed_seconds),
        "counts": report.counts,
    }

    with httpx.Client(verify=running.trust(), timeout=120) as client:
        token = running.access_token()
        client.headers["Authorization"] = f"Bearer {token}"
        base = f"{running.instance_url}/services/data/{VERSION}"

        calls_before = org.faults.api_used
        soql = (
            "SELECT Id, FirstName, LastName, Email, Title, AccountId, MailingCity, "
            f"SystemModstamp FROM Contact ORDER BY Id LIMIT {args.page_rows}"
        )
        started = time.perf_counter()
        page = client.get(f"{base}/query", params={"q": soql}).json()
        rows = len(page["records"])
        while not page["done"]:
            page = client.get(running.instance_url + page["nextRecordsUrl"]).json()
            rows += len(page["records"])
        paging_seconds = time.perf_counter() - started
        paging_calls = org.faults.api_used - calls_before
        results["rest_query_paging"] = {
            "rows": rows,
            "seconds": round(paging_seconds, 2),
            "records_per_second": round(rows / paging_seconds),
            "api_calls": paging_calls,
        }

        middle = org.store.execute(
            'SELECT "SystemModstamp" FROM "Contact" ORDER BY "SystemModstamp" '
            f"LIMIT 1 OFFSET {args.contacts // 2}"
        )[0][0]
        window = (
            f"SELECT Id, SystemModstamp FROM Contact WHERE SystemModstamp >= {middle} "
            "ORDER BY SystemModstamp, Id LIMIT 2000"
        )
        timings = []
        for _ in range(args.window_runs):
            started = time.perf_counter()
            response = client.get(f"{base}/query", params={"q": window})
            timings.append((time.perf_counter() - started) * 1000)
            assert len(response.json()["records"]) == 2000
        results["incremental_window_query"] = {
            "soql": window,
            "runs": args.window_runs,
            "median_ms": round(statistics.median(timings), 1),
            "p95_ms": round(sorted(timings)[int(len(timings) * 0.95) - 1], 1),
        }
    results["peak_rss_mb"] = round(_peak_rss_mb())
    running.stop()

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    rows = [
        (f"seed {args.contacts:,} contacts", f"{seed_seconds:.1f} s"),
        ("seed rate", f"{args.contacts / seed_seconds:,.0f} contacts/s"),
        (f"REST query paging, {rows:,} rows", f"{rows / paging_seconds:,.0f} records/s"),
        ("  API calls for that", str(paging_calls)),
        ("incremental window query (LIMIT 2000), median", f"{statistics.median(timings):.1f} ms"),
        (
            "incremental window query, p95",
            f"{sorted(timings)[int(len(timings) * 0.95) - 1]:.1f} ms",
        ),
        ("peak RSS", f"{results['peak_rss_mb']} MB"),
    ]
    width = max(len(name) for name, _ in rows) + 2
    for name, value in rows:
        print(f"{name:<{width}}{value:>22}")
    print(f"\nwritten to {RESULTS}")


if __name__ == "__main__":
    main()
