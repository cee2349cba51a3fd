"""What validation takes is what the log can store and read back: int64, finite floats,
well-formed UTF-8, ids and text within LIMITS, and a ts between the horizon and now + skew."""

import time
from datetime import UTC, datetime

import pytest
from test_events import event

from lumos.errors import DataValidationError
from lumos.events import LIMITS, EventLog, validate_event

NOW = 1_800_000_000.0  # a fixed clock: 2027-01-15


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"position": 2**70}, "position", "at most 9223372036854775807"),
        ({"position": 2**63}, "position", "(the log stores int64)"),
        ({"position": 1.0}, "position", "an integer >= 0"),
        ({"item_id": "\ud800x"}, "item_id", "lone surrogate ('\\ud800' at character 0)"),
        ({"cohort": "ok\udfff"}, "cohort", "lone surrogate"),
        ({"event_id": "e" * (LIMITS["id"] + 1)}, "event_id", "at most 256 characters"),
        ({"channel": "c" * (LIMITS["text"] + 1)}, "channel", "at most 256 characters"),
        ({"value": float("nan")}, "value", "a finite number"),
        ({"value": float("inf")}, "value", "a finite number"),
        ({"value": 10**400}, "value", "a finite number; got an integer of 1329 bits"),
        ({"propensity": True}, "propensity", "a finite number"),
        ({"ts": 10**400}, "ts", "finite number of epoch seconds"),
        ({"ts": float("nan")}, "ts", "finite number of epoch seconds"),
        ({"ts": "2099-01-01T00:00:00Z"}, "ts", "later than this server's clock allows"),
        ({"ts": 4070908800}, "ts", "check the sending clock"),
        ({"ts": NOW * 1000}, "ts", "not milliseconds"),
        ({"ts": "1999-12-31T23:59:59Z"}, "ts", "is before 2000-01-01T00:00:00Z"),
        ({"ts": "9999-12-31T23:59:59-23:59"}, "ts", "(beyond year 9999) is later than"),
        ({"ts": "x" * 10_000}, "ts", "… (10,000 characters)"),
    ],
)
def test_what_the_log_cannot_store_is_refused_naming_the_field(change, field, message):
    with pytest.raises(DataValidationError) as err:
        validate_event(event(**change), row=2, where="events", now=NOW)
    assert err.value.column == field and err.value.code == "bad_event"
    assert message in str(err.value) and str(err.value).startswith(f"events 2, field {field!r}")
    assert len(str(err.value)) < 600  # a huge value is cut, not echoed
    str(err.value).encode("utf-8")  # the message itself is text an HTTP body can carry


def test_an_unknown_key_is_named_as_text_even_when_it_is_not():
    with pytest.raises(DataValidationError) as err:
        validate_event(event(**{"\ud800" + "k" * 500: 1}))
    assert err.value.column == ("\\ud800" + "k" * 500)[:64]
    err.value.column.encode("utf-8")


def test_the_edges_that_are_taken():
    taken = validate_event(
        event(
            position=LIMITS["int"],
            item_id="\U0001f600 é\\\x01\x00",  # an astral character, a backslash, controls
            event_id="e" * LIMITS["id"],
            value=-(2**63),
            ts=NOW + LIMITS["skew"],
        ),
        now=NOW,
    )
    assert taken["position"] == 2**63 - 1 and taken["value"] == -(2.0**63)
    assert taken["item_id"] == "\U0001f600 é\\\x01\x00"
    assert validate_event(event(ts=time.time() + 1))["ts"] > 0  # the real clock, one second on
    assert validate_event(event(ts=LIMITS["horizon"]))["ts"] == 946684800.0


def test_horizon_and_skew_are_the_callers():
    recent = datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(DataValidationError, match="is before 2026-01-01"):
        validate_event(event(ts="2025-12-31T23:00:00Z"), horizon=recent, now=NOW)
    assert validate_event(event(ts=NOW + 3000), now=NOW, skew=3600)["ts"] == NOW + 3000
    with pytest.raises(DataValidationError, match="60 s ahead"):
        validate_event(event(ts=NOW + 61), now=NOW, skew=60)


def test_the_log_passes_its_bounds_to_validation(tmp_path):
    with EventLog(tmp_path, skew=0.0, horizon=time.time() - 10) as log:
        with pytest.raises(DataValidationError, match="events 1, field 'ts'"):
            log.append([event(0, ts=time.time() - 1), event(1, ts=time.time() + 60)])
        assert len(log) == 0
    with EventLog(tmp_path) as log:  # the default: 300 s of skew
        assert log.append([event(1, ts=time.time() + 60)]) == 1
