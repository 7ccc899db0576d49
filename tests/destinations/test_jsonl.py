"""The JSONL destination: one file per run, Pipelines messages, resumed runs without repeats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sfbridge.destinations import JsonlDestination, JsonlSpec, RunInfo, open_destination
from sfbridge.errors import ConfigError, FatalError
from sfbridge.messages import Identify, Message, Track, message_id, parse_message


def messages(*numbers: int) -> list[Message]:
    return [
        Identify(user_id=f"user-{n}", traits={"n": n}, message_id=message_id("contacts", n))
        for n in numbers
    ]


def open_run(run: RunInfo, directory: Path) -> JsonlDestination:
    destination = open_destination(JsonlSpec(directory=directory), run)
    assert isinstance(destination, JsonlDestination)
    return destination


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def test_each_run_writes_its_own_file_of_pipelines_messages(run: RunInfo, tmp_path: Path) -> None:
    batch = [*messages(1, 2), Track(event="Clicked", user_id="user-1", message_id="e1")]
    with open_run(run, tmp_path / "out") as destination:
        result = destination.deliver(batch)

    path = tmp_path / "out" / "contacts" / "run-1.jsonl"
    assert destination.path == path
    assert result.delivered == [m.message_id for m in batch]
    assert [parse_message(line) for line in lines(path)] == batch
    assert json.loads(lines(path)[2]) == {
        "type": "track",
        "messageId": "e1",
        "event": "Clicked",
        "userId": "user-1",
        "properties": {},
    }


def test_a_resumed_run_appends_only_new_messages(run: RunInfo, tmp_path: Path) -> None:
    with open_run(run, tmp_path) as first:
        first.deliver(messages(1, 2))

    with open_run(run, tmp_path) as resumed:
        result = resumed.deliver(messages(1, 2, 3))
        resumed.deliver(messages(3, 4))

    assert result.delivered == [m.message_id for m in messages(1, 2, 3)]
    assert [parse_message(line) for line in lines(resumed.path)] == messages(1, 2, 3, 4)


def test_a_line_cut_short_by_a_crash_is_replaced(run: RunInfo, tmp_path: Path) -> None:
    with open_run(run, tmp_path) as first:
        first.deliver(messages(1))
    with first.path.open("a") as file:
        file.write(messages(2)[0].to_json()[:25])  # the crash hit mid-write

    with open_run(run, tmp_path) as resumed:
        resumed.deliver(messages(2, 3))

    assert [parse_message(line) for line in lines(resumed.path)] == messages(1, 2, 3)


def test_repeated_ids_in_one_batch_are_written_once(run: RunInfo, tmp_path: Path) -> None:
    with open_run(run, tmp_path) as destination:
        result = destination.deliver(messages(1, 1, 2))

    assert len(result.outcomes) == 3 and result.settled
    assert len(lines(destination.path)) == 2


def test_runs_do_not_share_files(run: RunInfo, tmp_path: Path) -> None:
    other = RunInfo(sync=run.sync, run_id="run-2", home=run.home)
    with open_run(run, tmp_path) as first, open_run(other, tmp_path) as second:
        first.deliver(messages(1))
        second.deliver(messages(1, 2))

    assert len(lines(first.path)) == 1
    assert len(lines(second.path)) == 2


def test_the_default_folder_is_jsonl_in_home(run: RunInfo) -> None:
    with open_destination(JsonlSpec(), run) as destination:
        destination.deliver(messages(1))

    assert (run.home / "jsonl" / "contacts" / "run-1.jsonl").is_file()


@pytest.mark.parametrize(("sync", "run_id"), [("../etc", "run-1"), ("contacts", ".hidden")])
def test_names_that_are_not_file_names_are_refused(sync: str, run_id: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot name a file"):
        open_run(RunInfo(sync=sync, run_id=run_id, home=tmp_path), tmp_path)


def test_a_damaged_file_stops_the_run(run: RunInfo, tmp_path: Path) -> None:
    path = tmp_path / "contacts" / "run-1.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text(messages(1)[0].to_json() + "\n" + "not json\n")

    with pytest.raises(FatalError, match=r"line 2 of .*run-1\.jsonl is not a message"):
        open_run(run, tmp_path)
