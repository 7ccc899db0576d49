"""The emulator over real sockets: concurrent clients, as thread-pooled tools use it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from sfbridge.emulators.salesforce.server import RunningEmulator


def test_concurrent_clients_are_served_correctly(sf_server: RunningEmulator) -> None:
    trust = sf_server.trust()
    token = sf_server.access_token()
    base = f"{sf_server.instance_url}/services/data/v62.0"
    headers = {"Authorization": f"Bearer {token}"}

    def worker(n: int) -> list[str]:
        ids = []
        with httpx.Client(verify=trust, timeout=60, headers=headers) as client:
            for i in range(15):
                created = client.post(f"{base}/sobjects/Account", json={"Name": f"Conc {n}-{i}"})
                assert created.status_code == 201, created.text
                ids.append(created.json()["id"])
                page = client.get(f"{base}/query", params={"q": "SELECT Id FROM Account LIMIT 5"})
                assert page.status_code == 200
        return ids

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(worker, range(8)))
    ids = [i for batch in results for i in batch]
    assert len(set(ids)) == 120
    names = {sf_server.org.get("Account", i)["Name"] for i in ids}
    assert names == {f"Conc {n}-{i}" for n in range(8) for i in range(15)}
