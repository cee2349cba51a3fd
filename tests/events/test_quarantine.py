"""A line the log cannot read never stops it: it is moved to quarantine.jsonl, counted, and the
rest reads as before; ids are remembered as the strings they were, across a restart."""

import base64
import json
import re

import pytest
from click.testing import CliRunner
from test_events import event

from lumos.cli import main
from lumos.events import EventLog, RedisEventLog, new_id, read_events, served_lines

GOOD = json.dumps(event(99), separators=(",", ":")).encode()
PLANTED = {  # each a whole line, as a hand, a disk or an older version left it
    "invalid UTF-8": GOOD.replace(b'"c1"', b'"c\xff\xfe"'),
    "a lone surrogate escape": GOOD.replace(b'"c1"', b'"\\ud800x"'),
    "past int64": GOOD.replace(b'"position":0', b'"position":1180591620717411303424'),
    "not one JSON object": GOOD[:40],
    "field 'ts' is missing": GOOD.replace(b',"ts":1735787144', b""),
}


def plant(folder, lines, segment="segment-00000001.jsonl"):
    with open(folder / segment, "ab") as f:
        f.write(b"".join(line + b"\n" for line in lines))


def test_bad_lines_are_moved_aside_counted_and_the_rest_kept(tmp_path):
    with EventLog(tmp_path) as log:
        log.append([event(0), event(1)])
    start = (tmp_path / "segment-00000001.jsonl").stat().st_size
    plant(tmp_path, [*PLANTED.values(), json.dumps(event(2)).encode()])
    before = (tmp_path / "segment-00000001.jsonl").read_bytes()
    told = []
    with EventLog(tmp_path, notify=told.append) as log:
        assert log.quarantined == len(PLANTED) and len(log) == 3
        assert log.read()["event_id"].tolist() == ["e0", "e1", "e2"]
        assert log.append([event(2), event(3)]) == 1  # e2 is still remembered
        assert [b.reason.split(" (")[0] for b in log.bad_lines] == [
            "invalid UTF-8 at byte 86",
            "a lone surrogate escape in '\\ud800x', which is not text",
            "field 'position' holds 1180591620717411303424, past int64",
            "not one JSON object",
            "field 'ts' is missing",
        ]
        assert all(b.moved and b.segment == "segment-00000001.jsonl" for b in log.bad_lines)
    (message,) = told  # said once, naming the folder, the file and each line's offset
    assert f"event log {str(tmp_path)!r}: 5 lines could not be read" in message
    assert f"moved to {str(tmp_path / 'quarantine.jsonl')!r}" in message
    assert f"segment-00000001.jsonl byte {start}: invalid UTF-8 at byte 86" in message
    records = [json.loads(x) for x in (tmp_path / "quarantine.jsonl").read_text().splitlines()]
    assert [base64.b64decode(r["raw"]) for r in records] == [x + b"\n" for x in PLANTED.values()]
    for r in records:  # each where it was: the segment's bytes at that offset
        assert before[r["offset"] :].startswith(base64.b64decode(r["raw"]))
    with EventLog(tmp_path, notify=told.append) as log:  # moved once, not again
        assert log.quarantined == 0 and len(told) == 1
        assert log.read()["event_id"].tolist() == ["e0", "e1", "e2", "e3"]


def test_the_default_notice_is_a_warning_and_a_null_first_line_does_not_crash(tmp_path):
    (tmp_path / "segment-00000001.jsonl").write_bytes(b"null\n" + GOOD + b"\n")  # Arrow crashes
    with pytest.warns(UserWarning, match=r"1 line could not be read .* byte 0: not a JSON"):
        log = EventLog(tmp_path)
    assert log.read()["event_id"].tolist() == ["e99"]
    log.close()


def test_ids_are_the_same_strings_after_a_restart(tmp_path):
    odd = ["é\\\x01", 'say "hi"', "\\", "tab\there", "😀", "\x00", "a\\u00e9"]
    with EventLog(tmp_path) as log:
        assert log.append([event(0, event_id=i) for i in odd]) == len(odd)
    with EventLog(tmp_path) as log:
        assert log.append([event(0, event_id=i) for i in odd]) == 0
        assert log.append([event(0, event_id="é")]) == 1  # "\\u00e9" decoded, not its escape
        assert log.read()["event_id"].tolist() == [*odd, "é"]


def test_a_reader_beside_the_writer_reads_around_and_the_writer_moves(tmp_path):
    with EventLog(tmp_path) as log:
        log.append([event(0)])
        # the server's own served line with an item id no store should hold
        log.append_served(served_lines("m1", [("s1", "t1", "\ud800", 0)], ts=1735787045))
        told = []
        with EventLog(tmp_path, readonly=True, notify=told.append) as reader:
            assert reader.read()["event_id"].tolist() == ["e0"]
            assert reader.quarantined == 1 and not reader.bad_lines[0].moved
        assert "1 left in place (a writer has the log open" in told[0]
        assert not (tmp_path / "quarantine.jsonl").exists()
        with pytest.warns(UserWarning, match="moved to"):  # the writer's own read moves it
            assert log.read()["event_id"].tolist() == ["e0"]
        assert log.append([event(1)]) == 1 and len(log) == 2  # to the rewritten segment
        assert log.read()["event_id"].tolist() == ["e0", "e1"]
    with EventLog(tmp_path) as log:
        assert log.quarantined == 0 and log.read()["event_id"].tolist() == ["e0", "e1"]


def test_a_reader_with_no_writer_moves_the_lines_itself(tmp_path):
    with EventLog(tmp_path) as log:
        log.append([event(0)])
    plant(tmp_path, [PLANTED["past int64"]])
    told = []
    assert read_events(tmp_path, notify=told.append)["event_id"].tolist() == ["e0"]
    assert "moved to" in told[0] and (tmp_path / "quarantine.jsonl").exists()
    assert read_events(tmp_path, notify=told.append)["event_id"].tolist() == ["e0"]
    assert len(told) == 1


def test_an_earlier_segment_cut_mid_line_is_read_not_refused(tmp_path):
    with EventLog(tmp_path, segment_bytes=300) as log:
        for i in range(4):
            log.append([event(i)])
    first = sorted(tmp_path.glob("segment-*.jsonl"))[0]
    whole = first.read_bytes()
    first.write_bytes(whole + b'{"event_id":"half')  # damaged outside Lumos
    with pytest.warns(UserWarning, match="ends mid-line, but it is not the last one"):
        log = EventLog(tmp_path, segment_bytes=300)
    assert first.read_bytes() == whole and len(log) == 4
    assert log.read()["event_id"].tolist() == ["e0", "e1", "e2", "e3"]
    log.close()


def test_a_stream_reads_around_an_entry_it_cannot_read(redis_url):
    told = []
    stream = RedisEventLog(redis_url, stream=f"test:{new_id()}", notify=told.append)
    stream.append([event(0)])
    stream.append_served([PLANTED["past int64"].decode()])  # as a served line with a bad id
    stream.append([event(1)])
    assert stream.read()["event_id"].tolist() == ["e0", "e1"] and stream.quarantined == 1
    assert "1 entry could not be read and is left out of what is read (it stays" in told[0]
    assert re.search(r"entry \d+-\d+: field 'position' holds \d+, past int64\.$", told[0])
    assert len(stream) == 3
    stream.close()


@pytest.mark.parametrize("command", [["report", "funnel"], ["events", "convert"]])
def test_the_commands_say_what_they_set_aside_and_answer(tmp_path, command):
    with EventLog(tmp_path / "log") as log:
        log.append_served(served_lines("m1", [("s1", "t1", "c1", 0)], ts=1735787045, cohort="A"))
        log.append([event(1, cohort="A"), event(2, type="action", action="click", cohort="A")])
    plant(tmp_path / "log", [PLANTED["a lone surrogate escape"], PLANTED["past int64"]])
    args = [*command, "--events", str(tmp_path / "log")]
    if command[0] == "events":
        args += ["--out", str(tmp_path / "out"), "--format", "csv"]
    done = CliRunner().invoke(main, args)
    assert done.exit_code == 0, done.output
    assert "Traceback" not in done.output and done.exception is None
    assert done.stderr.startswith(f"warning: event log {str(tmp_path / 'log')!r}: 2 lines")
    assert "byte 901: field 'position' holds 1180591620717411303424, past int64" in done.stderr
    assert "quarantine.jsonl" in done.stderr
    assert ("1.000" if command[0] == "report" else "3 events") in done.stdout
