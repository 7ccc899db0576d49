"""Record CRUD, describe, upsert by external id, deleted/updated and error shapes."""

from __future__ import annotations

import pytest

from sfbridge.emulators.salesforce.org import Org

from .conftest import Api


@pytest.fixture
def ext_field(org: Org) -> str:
    org.add_custom_field(
        "Contact", {"name": "CIO_Id__c", "type": "Text", "externalId": True, "unique": True}
    )
    return "CIO_Id__c"


def _create(api: Api, object_name: str, body: dict) -> str:
    response = api.post(f"/sobjects/{object_name}", body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_create_get_update_delete_round_trip(api: Api) -> None:
    account_id = _create(api, "Account", {"Name": "Acme"})
    created = api.post(
        "/sobjects/Contact", {"LastName": "Lovelace", "FirstName": "Ada", "AccountId": account_id}
    )
    assert created.json() == {"id": created.json()["id"], "success": True, "errors": []}
    contact_id = created.json()["id"]
    assert contact_id.startswith("003") and len(contact_id) == 18

    record = api.get(f"/sobjects/Contact/{contact_id}").json()
    assert record["attributes"] == {
        "type": "Contact",
        "url": f"/services/data/v62.0/sobjects/Contact/{contact_id}",
    }
    assert record["Name"] == "Ada Lovelace"
    assert record["AccountId"] == account_id
    assert record["IsDeleted"] is False
    assert record["CreatedDate"].endswith("+0000")
    assert record["MailingAddress"] is None

    before = record["SystemModstamp"]
    api.org.store.clock.advance(__import__("datetime").timedelta(milliseconds=5))
    assert (
        api.patch(f"/sobjects/Contact/{contact_id}", {"MailingCity": "London"}).status_code == 204
    )
    updated = api.get(
        f"/sobjects/Contact/{contact_id}?fields=MailingCity,MailingAddress,SystemModstamp"
    )
    body = updated.json()
    assert body["MailingCity"] == "London"
    assert body["MailingAddress"]["city"] == "London"
    assert body["SystemModstamp"] > before

    assert api.delete(f"/sobjects/Contact/{contact_id}").status_code == 204
    gone = api.get(f"/sobjects/Contact/{contact_id}")
    assert gone.status_code == 404
    assert gone.json()[0]["errorCode"] == "ENTITY_IS_DELETED"
    assert api.org.get("Contact", contact_id, include_deleted=True)["IsDeleted"] is True


def test_fifteen_character_ids_are_accepted(api: Api) -> None:
    account_id = _create(api, "Account", {"Name": "Acme"})
    assert api.get(f"/sobjects/Account/{account_id[:15]}").json()["Id"] == account_id


@pytest.mark.parametrize(
    ("object_name", "body", "status", "code", "fields"),
    [
        ("Lead", {"LastName": "X"}, 400, "REQUIRED_FIELD_MISSING", ["Company"]),
        ("Contact", {"LastName": "X", "Naem": "y"}, 400, "INVALID_FIELD", ["Naem"]),
        (
            "Contact",
            {"LastName": "X", "IsDeleted": True},
            400,
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            ["IsDeleted"],
        ),
        ("Contact", {"LastName": "X", "Birthdate": "not a date"}, 400, "JSON_PARSER_ERROR", None),
        ("Account", {"Name": "A", "NumberOfEmployees": "many"}, 400, "JSON_PARSER_ERROR", None),
        ("Contact", {"LastName": "X", "Email": "nope"}, 400, "INVALID_EMAIL_ADDRESS", ["Email"]),
        ("Contact", {"LastName": "X" * 81}, 400, "STRING_TOO_LONG", ["LastName"]),
        (
            "Contact",
            {"LastName": "X", "AccountId": "001000000000000"},
            400,
            "INVALID_CROSS_REFERENCE_KEY",
            ["AccountId"],
        ),
        (
            "Contact",
            {"LastName": "X", "AccountId": "0038c0000000001AAA"},
            400,
            "FIELD_INTEGRITY_EXCEPTION",
            ["AccountId"],
        ),
        ("Contact", {"LastName": "X", "AccountId": "garbage"}, 400, "MALFORMED_ID", ["AccountId"]),
    ],
)
def test_invalid_records_get_the_error_a_real_org_returns(
    api: Api, object_name: str, body: dict, status: int, code: str, fields: list[str] | None
) -> None:
    response = api.post(f"/sobjects/{object_name}", body)
    assert response.status_code == status
    error = response.json()[0]
    assert error["errorCode"] == code
    if fields is not None:
        assert error["fields"] == fields
    assert api.org.count(object_name) == 0


def test_required_field_message_names_the_field(api: Api) -> None:
    error = api.post("/sobjects/Lead", {"LastName": "X"}).json()[0]
    assert error["message"] == "Required fields are missing: [Company]"


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("get", "/sobjects/Nope__c/describe", None, 404, "NOT_FOUND"),
        ("get", "/sobjects/Account/001000000000000AAA", None, 404, "NOT_FOUND"),
        ("post", "/sobjects/Account", b"{not json", 400, "JSON_PARSER_ERROR"),
        ("post", "/sobjects/Account", b"", 400, "JSON_PARSER_ERROR"),
        ("put", "/sobjects/Account/describe", None, 405, "METHOD_NOT_ALLOWED"),
    ],
)
def test_bad_requests_never_answer_500(
    api: Api, method: str, path: str, body: bytes | None, status: int, code: str
) -> None:
    kwargs = (
        {"content": body, "headers": {"Content-Type": "application/json"}}
        if body is not None
        else {}
    )
    response = api.client.request(method.upper(), api.url(path), **kwargs)
    assert response.status_code == status
    assert response.json()[0]["errorCode"] == code


def test_unknown_api_version_is_not_found(api: Api) -> None:
    for version in ("v30.0", "v99.0", "vabc", "v62"):
        response = api.client.get(f"/services/data/{version}/sobjects")
        assert response.status_code == 404, version
        assert response.json()[0]["errorCode"] == "NOT_FOUND"
    assert api.client.get("/services/data/v31.0/sobjects").status_code == 200
    assert api.client.get("/services/data/v66.0/sobjects").status_code == 200


def test_versions_list_needs_no_session(api: Api) -> None:
    del api.client.headers["Authorization"]
    versions = api.client.get("/services/data/").json()
    assert versions[0] == {"label": "Summer '14", "url": "/services/data/v31.0", "version": "31.0"}
    assert versions[-1]["version"] == "66.0"


def test_describe_has_the_attributes_clients_read(api: Api) -> None:
    describe = api.get("/sobjects/Contact/describe").json()
    assert describe["keyPrefix"] == "003"
    fields = {f["name"]: f for f in describe["fields"]}
    for key in (
        "type",
        "soapType",
        "length",
        "filterable",
        "createable",
        "updateable",
        "nillable",
        "defaultedOnCreate",
        "externalId",
        "idLookup",
        "referenceTo",
        "relationshipName",
        "picklistValues",
        "compoundFieldName",
        "calculated",
        "unique",
    ):
        assert key in fields["AccountId"], key
    assert fields["AccountId"]["referenceTo"] == ["Account"]
    assert fields["Description"]["filterable"] is False
    assert fields["MailingCity"]["compoundFieldName"] == "MailingAddress"
    listing = api.get("/sobjects").json()
    names = {s["name"] for s in listing["sobjects"]}
    assert {"Account", "Contact", "Lead", "Campaign", "CampaignMember", "EmailTemplate"} <= names
    assert listing["maxBatchSize"] == 200


def test_field_level_security_hides_fields(restricted_api: Api) -> None:
    fields = {f["name"] for f in restricted_api.get("/sobjects/Contact/describe").json()["fields"]}
    assert "Birthdate" not in fields and "LastName" in fields
    response = restricted_api.post(
        "/sobjects/Contact", {"LastName": "X", "Birthdate": "1990-01-01"}
    )
    assert response.json()[0]["errorCode"] == "INVALID_FIELD"
    read_only = restricted_api.post("/sobjects/Account", {"Name": "A", "Industry": "Energy"})
    assert read_only.json()[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"


def test_upsert_by_external_id_creates_then_updates(api: Api, ext_field: str) -> None:
    first = api.patch(f"/sobjects/Contact/{ext_field}/cio-1", {"LastName": "Hopper"})
    assert first.status_code == 201
    assert first.json()["created"] is True
    second = api.patch(f"/sobjects/Contact/{ext_field}/CIO-1", {"FirstName": "Grace"})
    assert second.status_code == 200
    assert second.json() == {
        "id": first.json()["id"],
        "success": True,
        "errors": [],
        "created": False,
    }
    record = api.get(f"/sobjects/Contact/{ext_field}/cio-1").json()
    assert record["Name"] == "Grace Hopper"
    only = api.patch(f"/sobjects/Contact/{ext_field}/cio-2?updateOnly=true", {"LastName": "N"})
    assert only.status_code == 404


def test_upsert_with_several_matches_answers_300(api: Api, org: Org) -> None:
    _create(api, "Contact", {"LastName": "A", "Email": "same@example.com"})
    _create(api, "Contact", {"LastName": "B", "Email": "same@example.com"})
    response = api.patch("/sobjects/Contact/Email/same@example.com", {"Title": "x"})
    assert response.status_code == 300
    assert len(response.json()) == 2


def test_upsert_on_a_field_that_is_not_an_external_id_is_404(api: Api) -> None:
    response = api.patch("/sobjects/Contact/LastName/x", {"FirstName": "y"})
    assert response.status_code == 404
    assert response.json()[0]["errorCode"] == "NOT_FOUND"


def test_unique_external_id_rejects_duplicates(api: Api, ext_field: str) -> None:
    _create(api, "Contact", {"LastName": "A", ext_field: "k1"})
    response = api.post("/sobjects/Contact", {"LastName": "B", ext_field: "K1"})
    assert response.json()[0]["errorCode"] == "DUPLICATE_VALUE"


def test_parent_by_external_id_inline(api: Api, org: Org) -> None:
    org.add_custom_field("Account", {"name": "Ext__c", "type": "Text", "externalId": True})
    account_id = _create(api, "Account", {"Name": "Acme", "Ext__c": "A1"})
    contact_id = _create(api, "Contact", {"LastName": "X", "Account": {"Ext__c": "A1"}})
    assert org.get("Contact", contact_id)["AccountId"] == account_id
    missing = api.post("/sobjects/Contact", {"LastName": "X", "Account": {"Ext__c": "nope"}})
    assert "Foreign key external ID: nope not found" in missing.json()[0]["message"]


def test_deleting_an_account_cascades_to_its_contacts(api: Api, org: Org) -> None:
    account_id = _create(api, "Account", {"Name": "Acme"})
    contact_id = _create(api, "Contact", {"LastName": "X", "AccountId": account_id})
    api.delete(f"/sobjects/Account/{account_id}")
    assert org.get("Contact", contact_id) is None
    assert org.get("Contact", contact_id, include_deleted=True)["IsDeleted"] is True


def test_deleted_and_updated_resources(api: Api, org: Org) -> None:
    start = org.store.clock.now()
    keep = _create(api, "Account", {"Name": "Keep"})
    drop = _create(api, "Account", {"Name": "Drop"})
    api.delete(f"/sobjects/Account/{drop}")
    end = org.store.clock.now()
    window = {"start": start.isoformat(), "end": end.isoformat()}
    deleted = api.get("/sobjects/Account/deleted/", params=window).json()
    assert [d["id"] for d in deleted["deletedRecords"]] == [drop]
    assert deleted["deletedRecords"][0]["deletedDate"].endswith("+0000")
    updated = api.get("/sobjects/Account/updated/", params=window).json()
    assert updated["ids"] == [keep]
    missing = api.get("/sobjects/Account/deleted/", params={"start": start.isoformat()})
    assert missing.json()[0]["errorCode"] == "MISSING_ARGUMENT"


def test_limits_and_usage_header(api: Api) -> None:
    response = api.get("/limits")
    limits = response.json()
    assert limits["DailyApiRequests"]["Max"] == 15000
    used = 15000 - limits["DailyApiRequests"]["Remaining"]
    assert response.headers["Sforce-Limit-Info"] == f"api-usage={used}/15000"
