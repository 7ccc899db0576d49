"""Record ids: checksum vectors and the 15/18-character forms."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sfbridge.salesforce.ids import checksum, is_valid_id, make_id, to_18


@pytest.mark.parametrize(
    ("id15", "id18"),
    [
        ("001M000000qfPyS", "001M000000qfPySIAU"),
        ("a0D30000001n7Pi", "a0D30000001n7PiEAI"),
        ("aBcDEfgHIJKLMNO", "aBcDEfgHIJKLMNO025"),
    ],
)
def test_published_checksum_vectors(id15: str, id18: str) -> None:
    assert to_18(id15) == id18
    assert to_18(id18) == id18
    assert is_valid_id(id18)


def test_wrong_checksum_or_shape_is_not_an_id() -> None:
    assert not is_valid_id("001M000000qfPySAAA")
    assert not is_valid_id("001M000000qfPy")
    with pytest.raises(ValueError, match="'nope' is not a valid Salesforce id"):
        to_18("nope")


@given(st.integers(min_value=0, max_value=62**10 - 1))
def test_generated_ids_are_valid_and_keep_the_prefix(number: int) -> None:
    record_id = make_id("003", number)
    assert is_valid_id(record_id)
    assert record_id.startswith("003")
    assert record_id[15:] == checksum(record_id[:15])


def test_generated_ids_sort_in_creation_order() -> None:
    ids = [make_id("001", n) for n in (1, 61, 62, 3843, 3844)]
    assert ids == sorted(ids)
