"""The sandbox's chaos setting from its text (sandbox/chaos.py): every key, the canonical text read back,
one-line errors naming the refused part, what chaos applies to, and the counts of its log."""

from __future__ import annotations

from pathlib import Path

import pytest

from path2prod.sandbox.chaos import Chaos, ChaosAction, ChaosFile, ChaosLog, ChaosReader, rule_delivered


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("drop=0.3,dup=0.2,delay=5s,throttle=0.1,seed=7", Chaos(0.3, 0.2, 5.0, 0.1, 7)),
        ("", Chaos()),
        ("off", Chaos()),
        (" OFF ", Chaos()),
        ("drop=1", Chaos(drop=1.0)),
        ("delay=500ms", Chaos(delay_seconds=0.5)),
        ("delay=2m", Chaos(delay_seconds=120.0)),
        ("delay=7", Chaos(delay_seconds=7.0)),
        ("delay=1.5s", Chaos(delay_seconds=1.5)),
        ("throttle=0.25, dup=0", Chaos(throttle=0.25)),
    ],
)
def test_a_spec_reads_as_its_values(text: str, expected: Chaos) -> None:
    # WHEN the text is parsed, THEN it gives those values
    assert Chaos.parse(text) == expected


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("throttle=0.1,seed=7,delay=5s,dup=0.2,drop=0.3", "drop=0.3,dup=0.2,delay=5s,throttle=0.1,seed=7"),
        ("delay=2m", "delay=120s"),
        ("delay=1.5", "delay=1500ms"),
        ("drop=0", "off"),
        ("", "off"),
        ("seed=3", "seed=3"),
    ],
)
def test_the_canonical_text_reads_back_as_the_same_setting(text: str, canonical: str) -> None:
    # GIVEN a setting
    chaos = Chaos.parse(text)

    # THEN its text is canonical, and reads back as the same setting
    assert str(chaos) == canonical
    assert Chaos.parse(str(chaos)) == chaos


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("drop=2", "'drop=2'"),
        ("drop=-0.1", "'drop=-0.1'"),
        ("drop=nan", "'drop=nan'"),
        ("dup=lots", "'dup=lots'"),
        ("fail=0.1", "unknown key 'fail'"),
        ("drop=0.1,drop=0.2", "drop is given twice"),
        ("delay=1s,delay=2s", "delay is given twice"),
        ("delay=301s", "'delay=301s'"),
        ("delay=6m", "'delay=6m'"),
        ("delay=5h", "'delay=5h'"),
        ("delay=-1", "'delay=-1'"),
        ("seed=x", "'seed=x'"),
        ("drop", "'drop'"),
        ("drop=", "'drop='"),
        ("drop=0.1,", "''"),
    ],
)
def test_a_bad_spec_is_one_line_naming_the_part(text: str, names: str) -> None:
    # WHEN a malformed setting is parsed
    with pytest.raises(ValueError, match=r"^chaos part ") as refused:
        Chaos.parse(text)

    # THEN the one-line error names the part it refuses
    assert names in str(refused.value)
    assert "\n" not in str(refused.value)


def test_a_seed_gives_each_role_its_own_repeatable_draws() -> None:
    # GIVEN a seeded setting
    chaos = Chaos.parse("drop=0.5,seed=7")

    # THEN a role draws the same numbers every time, and another role other numbers
    first = [chaos.random_for("dev/recorder").random() for _ in range(3)]
    assert [chaos.random_for("dev/recorder").random() for _ in range(3)] == first
    assert chaos.random_for("stg/rollback").random() != first[0]


@pytest.mark.parametrize(
    ("event", "applies"),
    [
        ({"source": "aws.codepipeline", "detail-type": "CodePipeline Pipeline Execution State Change"}, True),
        ({"source": "path2prod", "detail-type": "Deployment Succeeded"}, True),
        ({"source": "aws.scheduler", "detail-type": "Scheduled Event"}, False),
        ({"CodePipeline.job": {"id": "job-1"}}, False),
        ("not an event", False),
    ],
)
def test_chaos_applies_to_what_a_rule_delivered_only(event: object, applies: bool) -> None:
    assert rule_delivered(event) is applies


def test_a_reader_follows_the_file_and_counts_in_its_log(tmp_path: Path) -> None:
    # GIVEN a chaos file the daemon wrote, and a runtime's reader of it
    file, log = ChaosFile(tmp_path / "run" / "chaos.json"), tmp_path / "chaos.jsonl"
    file.write(Chaos.parse("drop=0.3"), log)
    reader = ChaosReader(file.path, "dev", "recorder")
    assert reader.current() == Chaos(drop=0.3)

    # WHEN the daemon writes another setting
    file.write(Chaos.parse("dup=1,seed=2"), log)

    # THEN the reader follows it, and what it records is counted per action and function
    assert reader.current() == Chaos(dup=1.0, seed=2)
    reader.record(ChaosAction.DUPLICATED, event_id="e1")
    reader.record(ChaosAction.DUPLICATED, event_id="e2")
    ChaosLog(log).record(ChaosAction.THROTTLED, env="stg", function="approvals")
    totals = ChaosLog(log).totals()
    assert totals["total"]["duplicated"] == 2
    assert totals["total"]["throttled"] == 1
    assert totals["total"]["dropped"] == 0
    assert totals["by_function"] == {"dev/recorder": {"duplicated": 2}, "stg/approvals": {"throttled": 1}}


def test_without_a_file_there_is_no_chaos(tmp_path: Path) -> None:
    # GIVEN a reader of a file not written (a sandbox started before chaos existed)
    reader = ChaosReader(tmp_path / "chaos.json", "dev", "recorder")

    # THEN there is no chaos, and recording does nothing
    assert reader.current() == Chaos()
    reader.record(ChaosAction.DROPPED)
    assert not (tmp_path / "chaos.jsonl").exists()
