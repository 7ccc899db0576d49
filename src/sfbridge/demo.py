"""``make demo``: start the emulated org and take a short narrated tour of it over HTTPS.

Everything here goes over the network like a real client: an OAuth login,
counts per object, a relationship query, an upsert by external id, a delete
and a page of a delete-aware ``queryAll``, then the API calls it all cost.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from sfbridge.emulators.salesforce.server import RunningEmulator, start_emulator

VERSION = "v62.0"
TOUR_OBJECTS = (
    "Account",
    "Contact",
    "Lead",
    "Opportunity",
    "Case",
    "Task",
    "Campaign",
    "CampaignMember",
)


def _query(client: httpx.Client, base: str, soql: str, *, all_rows: bool = False) -> dict[str, Any]:
    resource = "queryAll" if all_rows else "query"
    response = client.get(f"{base}/{resource}", params={"q": soql})
    response.raise_for_status()
    return dict(response.json())


def tour(running: RunningEmulator, console: Console) -> None:
    """Walk through the org as an API client would."""
    base = f"{running.instance_url}/services/data/{VERSION}"
    with httpx.Client(verify=running.trust(), timeout=60) as client:
        console.rule("[bold]1. Log in (OAuth 2.0 client credentials)")
        client.headers["Authorization"] = f"Bearer {running.access_token()}"
        console.print(
            f"instance_url: {running.instance_url}   (CA: {running.banner()['ca_bundle']})"
        )

        console.rule("[bold]2. Records per object (SELECT COUNT() ...)")
        counts = Table("object", "records")
        for name in TOUR_OBJECTS:
            counts.add_row(
                name, f"{_query(client, base, f'SELECT COUNT() FROM {name}')['totalSize']:,}"
            )
        console.print(counts)

        console.rule("[bold]3. A relationship query")
        soql = (
            "SELECT Name, Email, Account.Name, Account.Industry FROM Contact "
            "WHERE Email != null ORDER BY LastName, Id LIMIT 5"
        )
        console.print(f"[dim]{soql}")
        people = Table("Name", "Email", "Account", "Industry")
        for row in _query(client, base, soql)["records"]:
            account = row["Account"] or {}
            people.add_row(row["Name"], row["Email"], account.get("Name"), account.get("Industry"))
        console.print(people)

        console.rule("[bold]4. Upsert by external id (twice: created, then updated)")
        running.org.add_custom_field(
            "Contact", {"name": "CIO_Id__c", "type": "Text", "externalId": True, "unique": True}
        )
        url = f"{base}/sobjects/Contact/CIO_Id__c/cio-42"
        for body in ({"LastName": "Hopper", "Email": "grace@example.com"}, {"FirstName": "Grace"}):
            response = client.patch(url, json=body)
            console.print(
                f"PATCH .../Contact/CIO_Id__c/cio-42 {body} -> "
                f"{response.status_code} {response.json()}"
            )
        contact_id = response.json()["id"]

        console.rule("[bold]5. Delete, then read the recycle bin with queryAll")
        client.delete(f"{base}/sobjects/Contact/{contact_id}").raise_for_status()
        page = _query(
            client,
            base,
            "SELECT Id, Name, IsDeleted, SystemModstamp FROM Contact "
            "WHERE IsDeleted = true ORDER BY SystemModstamp DESC",
            all_rows=True,
        )
        recycled = Table("Id", "Name", "IsDeleted", "SystemModstamp")
        for row in page["records"][:5]:
            recycled.add_row(row["Id"], row["Name"], str(row["IsDeleted"]), row["SystemModstamp"])
        console.print(recycled)
        live_deleted = "SELECT COUNT() FROM Contact WHERE IsDeleted = true"
        console.print(
            f"queryAll found {page['totalSize']} deleted contact(s); "
            "the same query on /query finds "
            f"{_query(client, base, live_deleted)['totalSize']}."
        )

        console.rule("[bold]6. What it cost")
        limits = client.get(f"{base}/limits").json()["DailyApiRequests"]
        console.print(
            f"API calls used: {limits['Max'] - limits['Remaining']} of {limits['Max']} "
            f"(Sforce-Limit-Info: api-usage={running.org.faults.api_used}/{limits['Max']})"
        )


def main() -> None:
    """Start a seeded emulator in a temporary folder, tour it, stop it."""
    console = Console()
    data_dir = Path(tempfile.mkdtemp(prefix="sfbridge-demo-"))
    console.print("[bold]sfbridge demo[/]: starting the Salesforce org emulator (seed: small) ...")
    running = start_emulator(data_dir, seed="small", seed_value=1)
    try:
        report = running.seed_report
        if report is not None:
            console.print(
                f"seeded {sum(report.counts.values()):,} records in {report.seconds:.1f}s"
            )
        tour(running, console)
    finally:
        running.stop()
    console.print(
        f"\nThe org is kept in {data_dir}. Serve one yourself with: "
        "[bold].venv/bin/sfbridge emulate salesforce --seed small"
    )


if __name__ == "__main__":
    main()
