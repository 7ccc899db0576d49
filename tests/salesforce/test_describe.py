"""Typed, cached describe against the emulated org."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sfbridge.emulators.salesforce.org import INTEGRATION_USERNAME
from sfbridge.emulators.salesforce.server import RunningEmulator
from sfbridge.salesforce import PasswordGrant, SalesforceClient, SalesforceConfigError

from .conftest import api_calls

MakeClient = Callable[..., SalesforceClient]


def test_describe_is_typed_with_what_callers_read(sf_client: SalesforceClient) -> None:
    contact = sf_client.describe("Contact")
    assert contact.name == "Contact" and contact.summary.key_prefix == "003"
    assert contact.summary.queryable and contact.summary.createable
    email = contact.field("email")  # API names are case-insensitive
    assert email is not None
    assert (email.name, email.type, email.soap_type) == ("Email", "email", "xsd:string")
    assert email.filterable and email.createable and email.updateable and email.nillable
    assert email.id_lookup and not email.calculated
    account = contact.field("AccountId")
    assert account is not None
    assert (account.reference_to, account.relationship_name) == (("Account",), "Account")
    street = contact.field("MailingStreet")
    assert street is not None and street.compound_field_name == "MailingAddress"
    lead_source = contact.field("LeadSource")
    assert lead_source is not None and len(lead_source.picklist_values) == 5
    assert all(v.value and v.label for v in lead_source.picklist_values)
    record_id = contact.field("Id")
    assert record_id is not None and record_id.defaulted_on_create and not record_id.createable
    ext = contact.field("Ext_Id__c")
    assert ext is not None and ext.external_id and ext.unique and ext.custom
    assert "Legacy_Id__c" in contact.field_names
    assert contact.field("NoSuchField") is None


def test_a_second_describe_spends_no_api_call(
    org_server: RunningEmulator, sf_client: SalesforceClient
) -> None:
    first = sf_client.describe("Account")
    before, counted = api_calls(org_server), sf_client.api_calls
    assert sf_client.describe("Account") is first
    assert sf_client.describe("account") is first
    assert (api_calls(org_server), sf_client.api_calls) == (before, counted)
    sf_client.invalidate("Account")
    assert sf_client.describe("Account") == first
    assert api_calls(org_server) == before + 1
    sf_client.invalidate()
    sf_client.describe("Account")
    assert api_calls(org_server) == before + 2


def test_describe_global_is_cached_too(
    org_server: RunningEmulator, sf_client: SalesforceClient
) -> None:
    objects = {o.name: o for o in sf_client.describe_global()}
    assert objects["Contact"].queryable and objects["Contact"].key_prefix == "003"
    before = api_calls(org_server)
    sf_client.describe_global()
    assert api_calls(org_server) == before


def test_an_unknown_object_is_a_config_error_naming_it(sf_client: SalesforceClient) -> None:
    with pytest.raises(SalesforceConfigError, match="no object 'Contact123'") as unknown:
        sf_client.describe("Contact123")
    assert unknown.value.error_code == "NOT_FOUND" and unknown.value.status == 404


def test_describe_shows_only_what_the_user_may_read(
    org_server: RunningEmulator, make_client: MakeClient, sf_client: SalesforceClient
) -> None:
    credentials = org_server.credentials
    integration = make_client(
        PasswordGrant(
            credentials.client_id,
            credentials.client_secret,
            INTEGRATION_USERNAME,
            credentials.password,
        )
    )
    assert integration.describe("Contact").field("Birthdate") is None
    assert sf_client.describe("Contact").field("Birthdate") is not None
