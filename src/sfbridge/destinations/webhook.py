"""The webhook destination: messages POSTed in signed batches to an HTTP endpoint.

Each request is ``{"batch": [message, ...]}`` (the Pipelines ``/batch`` shape),
at most ``batch_size`` messages and ``max_body_bytes`` bytes, with headers::

    Content-Type: application/json
    X-Sfbridge-Timestamp: 1767225600
    X-Sfbridge-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">

Verifying a request on the receiving side (``verify_signature`` does this):

1. Read the raw body bytes before any JSON parsing.
2. Compute ``HMAC-SHA256(secret, timestamp + "." + body)`` with the timestamp
   header's value, hex-encode it and compare it with the signature header's
   part after ``sha256=`` in constant time.
3. Refuse a timestamp more than five minutes from your clock: the timestamp is
   signed with the body, so an old request cannot be replayed with a new one.
4. Deduplicate by ``messageId``: after a crash sfbridge sends a batch again.

The receiver answers 2xx when it has stored the batch. It may refuse some
messages with ``{"errors": [{"batch_index": 3, "reason": "..."}]}`` (the shape
of Customer.io's 207 answers); those fail for good, the rest are delivered.
Network errors, 408, 429 and 5xx are retried with exponential backoff and
jitter, honouring ``Retry-After``; any other status fails the request's
messages for good.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Literal

import httpx
from pydantic import Field, HttpUrl, SecretStr

from sfbridge import __version__
from sfbridge.backoff import Backoff, parse_retry_after
from sfbridge.messages import MAX_MESSAGE_BYTES, Message

from .base import (
    DeliveryResult,
    Destination,
    DestinationSettings,
    MessageOutcome,
    RunInfo,
    unique_messages,
)

SIGNATURE_HEADER = "X-Sfbridge-Signature"
TIMESTAMP_HEADER = "X-Sfbridge-Timestamp"
SIGNATURE_TOLERANCE_SECONDS = 300
_BODY_OPEN, _BODY_CLOSE = b'{"batch":[', b"]}"
_RETRIED_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
# How much of a refusal's body goes into a failure reason.
_REASON_BODY_CHARS = 200


class WebhookSpec(DestinationSettings):
    """Settings of a webhook destination."""

    kind: Literal["webhook"] = Field(default="webhook", description="Destination kind.")
    url: HttpUrl = Field(description="Endpoint that receives the POSTed batches.")
    secret: SecretStr = Field(
        min_length=16, description="Shared key of the HMAC-SHA256 request signature."
    )
    batch_size: int = Field(default=100, ge=1, le=10_000, description="Most messages per request.")
    max_body_bytes: int = Field(
        default=500_000,
        # Every message must fit alone: at most MAX_MESSAGE_BYTES plus the envelope.
        ge=MAX_MESSAGE_BYTES + len(_BODY_OPEN + _BODY_CLOSE),
        description="Largest request body in bytes (500 KB, as the Pipelines batch limit).",
    )
    timeout_seconds: float = Field(default=30.0, gt=0, description="Timeout of each request.")
    max_attempts: int = Field(
        default=5, ge=1, description="Tries per request, the first included, before failing."
    )
    base_delay_seconds: float = Field(
        default=1.0, ge=0, description="Backoff before the first retry; doubles on each retry."
    )
    max_delay_seconds: float = Field(
        default=60.0, ge=0, description="Longest wait between tries, Retry-After included."
    )


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value for ``body`` sent at ``timestamp`` (Unix seconds)."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


def verify_signature(
    secret: str,
    body: bytes,
    timestamp: str,
    signature: str,
    *,
    now: float | None = None,
    tolerance: float = SIGNATURE_TOLERANCE_SECONDS,
) -> bool:
    """True when ``signature`` signs ``body`` at ``timestamp``, within ``tolerance`` of now."""
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - sent) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


class WebhookDestination(Destination):
    """POSTs signed batches, retrying what may pass later; see the module docstring."""

    def __init__(
        self,
        spec: WebhookSpec,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``transport``, ``sleep``, ``jitter`` and ``clock`` are seams for tests."""
        self.name = spec.name or spec.kind
        self._spec = spec
        self._policy = Backoff(
            max_attempts=spec.max_attempts,
            base_delay=spec.base_delay_seconds,
            max_delay=spec.max_delay_seconds,
            jitter=jitter,
        )
        self._sleep = sleep
        self._clock = clock
        self._client = httpx.Client(
            transport=transport,
            timeout=spec.timeout_seconds,
            headers={"User-Agent": f"sfbridge/{__version__}"},
        )

    @classmethod
    def open(cls, spec: WebhookSpec, run: RunInfo) -> WebhookDestination:
        """A destination posting to the spec's URL (the run does not change where)."""
        return cls(spec)

    def deliver(self, batch: Sequence[Message]) -> DeliveryResult:
        """POST the batch in requests of at most ``batch_size`` messages and ``max_body_bytes``.

        Once a request has used all its tries on retriable failures, the
        requests after it are not sent: the endpoint is down, and the whole
        batch comes back later anyway.
        """
        by_id: dict[str, MessageOutcome] = {}
        down_reason = ""
        for chunk in self._chunks(unique_messages(batch)):
            if down_reason:
                outcomes = [_failed(m, f"not sent: {down_reason}", True) for m in chunk]
            else:
                outcomes = self._post(chunk)
                if all(o.retriable for o in outcomes):
                    down_reason = outcomes[0].reason
            by_id.update((o.message_id, o) for o in outcomes)
        return DeliveryResult.of(self.name, batch, by_id)

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.close()

    def _chunks(self, messages: Sequence[Message]) -> Iterator[list[Message]]:
        room = self._spec.max_body_bytes - len(_BODY_OPEN + _BODY_CLOSE)
        chunk: list[Message] = []
        size = 0
        for message in messages:
            # +1 for the comma before every message but the first.
            needed = len(message.to_json().encode()) + (1 if chunk else 0)
            if chunk and (len(chunk) == self._spec.batch_size or size + needed > room):
                yield chunk
                chunk, size, needed = [], 0, needed - 1
            chunk.append(message)
            size += needed
        if chunk:
            yield chunk

    def _post(self, chunk: Sequence[Message]) -> list[MessageOutcome]:
        """Send one request, with retries; the outcome of each of its messages."""
        body = _BODY_OPEN + b",".join(m.to_json().encode() for m in chunk) + _BODY_CLOSE
        secret = self._spec.secret.get_secret_value()
        for attempt in range(1, self._policy.max_attempts + 1):
            timestamp = str(int(self._clock()))
            headers = {
                "Content-Type": "application/json",
                TIMESTAMP_HEADER: timestamp,
                SIGNATURE_HEADER: sign(secret, timestamp, body),
            }
            retry_after = None
            try:
                response = self._client.post(str(self._spec.url), content=body, headers=headers)
            except httpx.TransportError as error:
                reason = f"no answer from the webhook: {type(error).__name__}: {error}"
            else:
                if response.is_success:
                    return _accepted(chunk, response)
                reason = f"the webhook answered {response.status_code}: {_excerpt(response)}"
                if response.status_code not in _RETRIED_STATUSES:
                    return [_failed(m, reason, False) for m in chunk]
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if attempt < self._policy.max_attempts:
                self._sleep(self._policy.delay(attempt, retry_after))
        reason = f"{reason} (after {self._policy.max_attempts} tries)"
        return [_failed(m, reason, True) for m in chunk]


def _accepted(chunk: Sequence[Message], response: httpx.Response) -> list[MessageOutcome]:
    """Outcomes of a 2xx answer: delivered, except the messages its ``errors`` list refuses."""
    refused: dict[int, str] = {}
    try:
        errors = response.json().get("errors") or []
    except (ValueError, AttributeError):
        errors = []
    for item in errors if isinstance(errors, list) else []:
        index = item.get("batch_index") if isinstance(item, dict) else None
        if isinstance(index, int) and 0 <= index < len(chunk):
            refused[index] = str(item.get("reason") or item.get("message") or "refused")
    return [
        _failed(m, f"the webhook refused it: {refused[i]}", False)
        if i in refused
        else MessageOutcome.delivered(m.message_id)
        for i, m in enumerate(chunk)
    ]


def _failed(message: Message, reason: str, retriable: bool) -> MessageOutcome:
    return MessageOutcome.failed(message.message_id, reason, retriable=retriable)


def _excerpt(response: httpx.Response) -> str:
    text = response.text.strip()
    if len(text) > _REASON_BODY_CHARS:
        return text[:_REASON_BODY_CHARS] + "..."
    return text or response.reason_phrase
