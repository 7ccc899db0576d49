"""The webhook destination against a real HTTP receiver on a loopback port."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import ValidationError

from sfbridge.destinations import (
    Delivery,
    RunInfo,
    WebhookDestination,
    WebhookSpec,
    open_destination,
    sign,
    verify_signature,
)
from sfbridge.destinations.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER
from sfbridge.messages import Identify, Message, message_id

SECRET = "s3cret-of-sixteen-chars"


@dataclass
class Answer:
    """What the receiver says to one request."""

    status: int
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Receiver:
    """A webhook endpoint: checks each signature, answers from ``script`` then with 200."""

    url: str
    script: list[Answer] = field(default_factory=list)
    batches: list[list[dict[str, Any]]] = field(default_factory=list)
    """The ``batch`` of every request, in arrival order, signed or not."""
    signed: list[bool] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A receiver listening on a free loopback port for this test."""
    state: Receiver

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            valid = verify_signature(
                SECRET,
                body,
                self.headers.get(TIMESTAMP_HEADER, ""),
                self.headers.get(SIGNATURE_HEADER, ""),
            )
            state.batches.append(json.loads(body)["batch"])
            state.signed.append(valid)
            if not valid:
                answer = Answer(401, b'{"error":"bad signature"}')
            else:
                answer = state.script.pop(0) if state.script else Answer(200)
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        def log_message(self, format: str, *args: Any) -> None:
            """Keep test output quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}/hooks/sfbridge")
    # A short poll keeps shutdown() from waiting half a second per test.
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def sleeps() -> list[float]:
    """The waits the destination asked for, instead of waiting."""
    return []


def webhook(url: str, sleeps: list[float], **settings: Any) -> WebhookDestination:
    spec = WebhookSpec(
        url=url,
        secret=SECRET,
        max_attempts=settings.pop("max_attempts", 3),
        base_delay_seconds=1.0,
        **settings,
    )
    # Half of the exponential ceiling every time: delays are exact.
    return WebhookDestination(spec, sleep=sleeps.append, jitter=lambda: 0.5)


def messages(count: int, traits_size: int = 10) -> list[Message]:
    return [
        Identify(user_id=f"u{n}", traits={"pad": "x" * traits_size}, message_id=message_id(n))
        for n in range(count)
    ]


def test_batches_are_split_signed_and_delivered_in_order(
    receiver: Receiver, sleeps: list[float]
) -> None:
    batch = messages(250)
    with webhook(receiver.url, sleeps, batch_size=100) as destination:
        result = destination.deliver(batch)

    assert result.delivered == [m.message_id for m in batch]
    assert [len(b) for b in receiver.batches] == [100, 100, 50]
    assert receiver.signed == [True, True, True]
    assert [item for b in receiver.batches for item in b] == [m.to_dict() for m in batch]
    assert sleeps == []


def test_bodies_stay_under_max_body_bytes(receiver: Receiver, sleeps: list[float]) -> None:
    batch = messages(10, traits_size=10_000)  # about 10 KB of JSON each
    with webhook(receiver.url, sleeps, max_body_bytes=33_000) as destination:
        result = destination.deliver(batch)

    assert result.settled and len(result.delivered) == 10
    assert [len(b) for b in receiver.batches] == [3, 3, 3, 1]


def test_503_and_429_are_retried_with_backoff_and_retry_after(
    receiver: Receiver, sleeps: list[float]
) -> None:
    receiver.script = [Answer(503), Answer(429, headers={"Retry-After": "7"})]
    batch = messages(3)
    with webhook(receiver.url, sleeps) as destination:
        result = destination.deliver(batch)

    assert result.delivered == [m.message_id for m in batch]
    assert len(receiver.batches) == 3
    assert receiver.batches[0] == receiver.batches[2]
    assert sleeps == [0.5, 7.0]  # jittered 1 s ceiling, then the server's Retry-After


def test_an_endpoint_that_stays_down_fails_the_batch_as_retriable(
    receiver: Receiver, sleeps: list[float]
) -> None:
    receiver.script = [Answer(503, b"maintenance")] * 10
    batch = messages(4)
    with webhook(receiver.url, sleeps, batch_size=2) as destination:
        result = destination.deliver(batch)

    assert [(o.status, o.retriable) for o in result.outcomes] == [(Delivery.FAILED, True)] * 4
    assert result.outcomes[0].reason == "the webhook answered 503: maintenance (after 3 tries)"
    assert result.outcomes[2].reason.startswith("not sent: the webhook answered 503")
    assert len(receiver.batches) == 3  # the second request was never sent
    assert sleeps == [0.5, 1.0]
    assert not result.settled


def test_a_400_fails_for_good_without_a_retry(receiver: Receiver, sleeps: list[float]) -> None:
    receiver.script = [Answer(400, b'{"error":"unknown field"}')]
    with webhook(receiver.url, sleeps) as destination:
        result = destination.deliver(messages(2))

    assert [(o.status, o.retriable) for o in result.outcomes] == [(Delivery.FAILED, False)] * 2
    assert result.outcomes[0].reason == 'the webhook answered 400: {"error":"unknown field"}'
    assert len(receiver.batches) == 1
    assert result.settled


def test_messages_the_receiver_refuses_fail_alone(receiver: Receiver, sleeps: list[float]) -> None:
    refusal = {"errors": [{"batch_index": 1, "reason": "invalid email"}]}
    receiver.script = [Answer(207, json.dumps(refusal).encode())]
    batch = messages(3)
    with webhook(receiver.url, sleeps) as destination:
        result = destination.deliver(batch)

    assert [o.status for o in result.outcomes] == [
        Delivery.DELIVERED,
        Delivery.FAILED,
        Delivery.DELIVERED,
    ]
    assert result.outcomes[1].reason == "the webhook refused it: invalid email"
    assert result.outcomes[1].retriable is False


def test_a_wrong_secret_is_refused_by_the_receiver(receiver: Receiver, sleeps: list[float]) -> None:
    spec = WebhookSpec(url=receiver.url, secret="another-secret-value")
    with WebhookDestination(spec, sleep=sleeps.append) as destination:
        result = destination.deliver(messages(1))

    assert receiver.signed == [False]
    assert result.outcomes[0].reason.startswith("the webhook answered 401")
    assert result.outcomes[0].retriable is False


def test_an_unreachable_endpoint_is_retried_then_retriable(sleeps: list[float]) -> None:
    with webhook("http://127.0.0.1:9/closed", sleeps) as destination:
        result = destination.deliver(messages(1))

    [outcome] = result.outcomes
    assert outcome.retriable
    assert outcome.reason.startswith("no answer from the webhook: ConnectError")
    assert sleeps == [0.5, 1.0]


def test_repeated_ids_are_sent_once(receiver: Receiver, sleeps: list[float]) -> None:
    [one] = messages(1)
    with webhook(receiver.url, sleeps) as destination:
        result = destination.deliver([one, one])

    assert result.delivered == [one.message_id, one.message_id]
    assert len(receiver.batches[0]) == 1


def test_open_destination_builds_a_webhook(receiver: Receiver, run: RunInfo) -> None:
    spec = WebhookSpec(url=receiver.url, secret=SECRET, name="crm-hook")
    with open_destination(spec, run) as destination:
        result = destination.deliver(messages(1))

    assert result.destination == "crm-hook" and result.settled


def test_signatures_cover_the_timestamp_and_the_body() -> None:
    body = b'{"batch":[]}'
    signature = sign(SECRET, "1700000000", body)

    assert verify_signature(SECRET, body, "1700000000", signature, now=1700000100)
    assert not verify_signature(SECRET, body + b" ", "1700000000", signature, now=1700000100)
    assert not verify_signature(SECRET, body, "1700000001", signature, now=1700000100)
    assert not verify_signature(SECRET, body, "1700000000", signature, now=1700000400)
    assert not verify_signature("other-secret", body, "1700000000", signature, now=1700000000)
    assert not verify_signature(SECRET, body, "soon", signature)


def test_settings_are_checked_and_the_secret_never_printed() -> None:
    spec = WebhookSpec(url="https://hooks.example.com/x", secret=SECRET)
    assert SECRET not in repr(spec) and SECRET not in spec.model_dump_json()

    with pytest.raises(ValidationError, match="max_body_bytes"):
        WebhookSpec(url="https://hooks.example.com/x", secret=SECRET, max_body_bytes=1000)
    with pytest.raises(ValidationError, match="url"):
        WebhookSpec(url="not a url", secret=SECRET)
