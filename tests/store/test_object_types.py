"""Object type ids: given, found by plural name, or the next free number for a new name."""

from __future__ import annotations

import pytest

from sfbridge.errors import ConfigError
from sfbridge.store import Database, ObjectTypeStore


def test_new_names_get_the_next_free_id_and_known_names_keep_theirs(
    fresh_state: Database,
) -> None:
    types = ObjectTypeStore(fresh_state)

    assert types.resolve("Account", "Accounts") == "1"
    assert types.resolve("Opportunity", "Opportunities") == "2"
    assert types.resolve("Account", "accounts") == "1"
    assert types.resolve("Campaign", "Campaigns", "7") == "7"
    assert types.resolve("Case", "Cases") == "8"
    assert types.list() == [
        ("1", "Account", "Accounts"),
        ("2", "Opportunity", "Opportunities"),
        ("7", "Campaign", "Campaigns"),
        ("8", "Case", "Cases"),
    ]


def test_an_id_or_a_name_taken_by_another_type_is_refused(fresh_state: Database) -> None:
    types = ObjectTypeStore(fresh_state)
    types.resolve("Account", "Accounts", "1")

    with pytest.raises(ConfigError, match="object type id '1' is 'Accounts' already"):
        types.resolve("Opportunity", "Opportunities", "1")
    with pytest.raises(ConfigError, match="object type 'Accounts' has id '1' already, not '2'"):
        types.resolve("Account", "Accounts", "2")
    assert types.resolve("Account", "Accounts", "1") == "1"
