"""``make demo``: start the emulated org and take a short narrated tour of it over HTTPS.

Everything here goes over the network like a real client: an OAuth login,
counts per object, a relationship query, an upsert by external id, a delete
and a page of a delete-aware ``queryAll``, a Bulk API 2.0 read and upsert
through sfbridge's own client, then the API calls it all cost.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from sfbridge.demo_sync import data_in_tour
from sfbridge.emulators.salesforce.server import RunningEmulator, start_emulator
from sfbridge.salesforce import ClientCredentialsGrant, HttpOptions, OAuthSession, SalesforceClient

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

        bulk_tour(running, console)

        console.rule("[bold]7. What it cost")
        limits = client.get(f"{base}/limits").json()["DailyApiRequests"]
        console.print(
            f"API calls used: {limits['Max'] - limits['Remaining']} of {limits['Max']} "
            f"(Sforce-Limit-Info: api-usage={running.org.faults.api_used}/{limits['Max']})"
        )


def bulk_tour(running: RunningEmulator, console: Console) -> None:
    """sfbridge's own client: a Bulk API 2.0 read of every contact and a Bulk upsert."""
    console.rule("[bold]6. sfbridge's client: Bulk API 2.0")
    creds = running.credentials
    grant = ClientCredentialsGrant(creds.client_id, creds.client_secret)
    http = HttpOptions(verify=running.trust())
    with SalesforceClient(OAuthSession(running.login_url, grant), http=http) as sf:
        result = sf.bulk_query("SELECT Id, Email, SystemModstamp FROM Contact")
        rows = sum(1 for _ in result.records())
        console.print(
            f"Bulk query job {result.job_id}: {rows:,} contacts streamed, "
            f"{sf.api_calls} API calls so far"
        )
        people = [
            {"CIO_Id__c": f"demo-{i}", "LastName": f"Demo {i}", "Email": f"demo{i}@example.com"}
            for i in range(500)
        ]
        people.append({"CIO_Id__c": "demo-broken", "Email": "no-last-name@example.com"})
        ingest = sf.bulk_ingest("Contact", "upsert", people, external_id_field="CIO_Id__c")
        created = sum(1 for r in ingest.results if r.success and r.created)
        failed = [r for r in ingest.results if not r.success]
        console.print(
            f"Bulk upsert of {len(people)} rows: {created} created, {len(failed)} "
            f"refused ({failed[0].errors[0].error_code} on row {failed[0].index}); "
            f"{sf.api_calls} API calls in all for the read and the write"
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
        data_in_tour(running, console, data_dir / "sfbridge-home")
    finally:
        running.stop()
    console.print(
        f"\nThe org is kept in {data_dir}. Serve one yourself with: "
        "[bold].venv/bin/sfbridge emulate salesforce --seed small"
    )


if __name__ == "__main__":
    main()
