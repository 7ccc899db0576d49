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


def test_a_request_head_over_16384_bytes_is_refused_like_an_org_refuses_it(
    sf_server: RunningEmulator,
) -> None:
    base = f"{sf_server.instance_url}/services/data/v62.0"
    headers = {"Authorization": f"Bearer {sf_server.access_token()}"}
    wide = "SELECT Id FROM Account WHERE Name != '" + "x" * 14_000 + "'"
    with httpx.Client(verify=sf_server.trust(), headers=headers) as client:
        fits = client.get(f"{base}/query", params={"q": wide})
        too_long = client.get(f"{base}/query", params={"q": wide + " " * 3_000})
        big_header = client.get(f"{base}/limits", headers={"X-Padding": "p" * 17_000})

    assert fits.status_code == 200, fits.text
    assert too_long.status_code == 414
    assert too_long.json()[0]["errorCode"] == "URI_TOO_LONG"
    assert big_header.status_code == 431
