"""Salesforce record ids: the 15/18-character forms and their checksum.

A record id is 15 case-sensitive base-62 characters whose first three are the
object's key prefix. The API returns an 18-character form whose last three
characters encode, for each 5-character chunk, which characters are upper case
(Salesforce Help, "What are Salesforce IDs composed of?").
"""

from __future__ import annotations

import re
import string

_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_CHECKSUM_ALPHABET = string.ascii_uppercase + "012345"
_ID_PATTERN = re.compile(r"^[0-9A-Za-z]{15}(?:[0-9A-Z]{3})?$")


def checksum(id15: str) -> str:
    """Return the 3-character case-safe suffix of a 15-character id."""
    suffix = []
    for start in range(0, 15, 5):
        bits = 0
        for position, char in enumerate(id15[start : start + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << position
        suffix.append(_CHECKSUM_ALPHABET[bits])
    return "".join(suffix)


def is_valid_id(value: str) -> bool:
    """True when ``value`` is a well-formed 15- or 18-character id with a correct checksum."""
    if not _ID_PATTERN.match(value):
        return False
    return len(value) == 15 or checksum(value[:15]) == value[15:]


def to_18(value: str) -> str:
    """Return the 18-character form of a 15- or 18-character id.

    Raises ``ValueError`` naming the value when it is not an id.
    """
    if not is_valid_id(value):
        raise ValueError(f"{value!r} is not a valid Salesforce id (15 or 18 base-62 characters)")
    return value if len(value) == 18 else value + checksum(value)


def make_id(key_prefix: str, number: int, pod: str = "8c") -> str:
    """Build the 18-character id of record ``number`` of an object.

    The 15-character body is the key prefix, a 2-character instance ("pod")
    code, and the number in base 62 padded to 10 characters, so ids sort in
    creation order within an object, as they roughly do in a real org.
    """
    if len(key_prefix) != 3:
        raise ValueError(f"key prefix {key_prefix!r} must have 3 characters")
    digits = []
    remaining = number
    for _ in range(10):
        remaining, digit = divmod(remaining, 62)
        digits.append(_BASE62[digit])
    if remaining:
        raise ValueError(f"record number {number} does not fit in a Salesforce id")
    body = key_prefix + pod + "".join(reversed(digits))
    return body + checksum(body)
