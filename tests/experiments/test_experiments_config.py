"""Bad configs: every error names the file, the line and the field, and says what to do."""

from __future__ import annotations

import textwrap

import pytest

from lumos.errors import DataValidationError
from lumos.experiments import EXAMPLE_CONFIG, Experiments

GOOD = """\
experiments:
  a:
    unit: member_id
    coverage: 10
    variants:
      control: {weight: 1, payload: {models: [m1]}}
      treatment: {weight: 1, payload: {models: [m2]}}
    targeting: seniority >= 3
  b:
    unit: member_id
    variants: {x: 1}
layers:
  l:
    shares:
      a: [0, 50]
      b: [50, 100]
"""


def load(tmp_path, text):
    path = tmp_path / "experiments.yaml"
    path.write_text(textwrap.dedent(text))
    return Experiments.load(path), str(path)


def error(tmp_path, text) -> DataValidationError:
    path = tmp_path / "experiments.yaml"
    path.write_text(textwrap.dedent(text))
    with pytest.raises(DataValidationError) as info:
        Experiments.load(path)
    assert info.value.file == str(path)
    assert info.value.code == "bad_experiments"
    assert info.value.message.startswith(str(path))
    return info.value


def test_good_config_loads(tmp_path):
    exps, _ = load(tmp_path, GOOD)
    a = exps["a"]
    assert (a.unit, a.salt, a.coverage, a.covered_buckets) == ("member_id", "a", 10.0, 1000)
    assert [(v.name, v.start, v.stop) for v in a.variants] == [
        ("control", 0, 5000),
        ("treatment", 5000, 10000),
    ]
    assert a.payload("treatment") == {"models": ["m2"]}
    assert (a.layer, a.layer_range) == ("l", (0, 5000))
    assert exps.layers["l"].salt == "l"


def test_example_config_loads():
    exps = Experiments.load(EXAMPLE_CONFIG)
    assert exps["reason_copy"].salt == "reason_copy_2024"
    assert [r.source for r in exps["cohort_order"].targeting] == [
        'industry in ["software", "finance"]',
        "seniority >= 3",
    ]


def test_variant_ranges_from_uneven_weights(tmp_path):
    exps, _ = load(
        tmp_path,
        """\
        experiments:
          a:
            unit: account_id
            variants: {x: 1, y: 1, z: 1, w: 0.5}
        """,
    )
    assert [(v.start, v.stop) for v in exps["a"].variants] == [
        (0, 2857),
        (2857, 5714),
        (5714, 8571),
        (8571, 10000),
    ]


@pytest.mark.parametrize(
    ("text", "line", "field", "says"),
    [
        (
            GOOD.replace("    coverage: 10\n", "    coverage: 10\n    colour: red\n"),
            5,
            "experiments.a.colour",
            "unknown key 'colour'",
        ),
        (
            GOOD.replace("weight: 1, payload: {models: [m1]}", "weight: 0").replace(
                "weight: 1, payload: {models: [m2]}", "weight: 0"
            ),
            5,
            "experiments.a.variants",
            "weights sum to 0",
        ),
        (
            GOOD.replace("weight: 1, payload: {models: [m1]}", "weight: -1"),
            6,
            "experiments.a.variants.control.weight",
            "must be a number >= 0; got -1",
        ),
        (GOOD.replace("coverage: 10", "coverage: 120"), 4, "experiments.a.coverage", "0 to 100"),
        (GOOD.replace("coverage: 10", "coverage: -1"), 4, "experiments.a.coverage", "got -1"),
        (GOOD.replace("coverage: 10", "coverage: lots"), 4, "experiments.a.coverage", "got lots"),
        (
            GOOD.replace("seniority >= 3", "seniority >= "),
            8,
            "experiments.a.targeting",
            "does not parse",
        ),
        (
            GOOD.replace("seniority >= 3", "__import__('os').system('ls')"),
            8,
            "experiments.a.targeting",
            "is not allowed",
        ),
        (GOOD.replace("b: [50, 100]", "b: [40, 100]"), 16, "layers.l.shares.b", "overlaps 'a'"),
        (GOOD.replace("b: [50, 100]", "b: [50, 120]"), 16, "layers.l.shares.b", "0 to 100"),
        (GOOD.replace("b: [50, 100]", "b: [60, 50]"), 16, "layers.l.shares.b", "must be below"),
        (GOOD.replace("b: [50, 100]", "c: [50, 100]"), 16, "layers.l.shares.c", "no experiment"),
        (GOOD.replace("unit: member_id", "unit: user_id", 1), 3, "experiments.a.unit", "one of"),
        (
            GOOD.replace("  b:\n    unit: member_id", "  b:\n    unit: account_id"),
            16,
            "layers.l.shares.b",
            "same unit",
        ),
        (GOOD.replace("    unit: member_id\n", "", 1), 2, "experiments.a.unit", "is missing"),
        (GOOD.replace("  b:\n", "  a:\n"), 9, "experiments.a", "appears twice"),
        (GOOD.replace("layers:", "layer:"), 12, "layer", "unknown key 'layer'"),
        (
            GOOD.replace("variants: {x: 1}", "variants: {x: 1}\n    overrides: {'7': y}"),
            12,
            "experiments.b.overrides.7",
            "variant 'y' is not one of x",
        ),
        (
            GOOD.replace("payload: {models: [m1]}", "payload: [m1]"),
            6,
            "experiments.a.variants.control.payload",
            "must be a mapping",
        ),
        (
            GOOD.replace("variants: {x: 1}", "variants: {}"),
            11,
            "experiments.b.variants",
            "at least",
        ),
        (
            GOOD.replace("      a: [0, 50]\n", "      a: [0, 50]\n      a: [60, 70]\n"),
            16,
            "layers.l.shares.a",
            "appears twice",
        ),
        ("experiments: [a, b]\n", 1, "experiments", "must be a mapping"),
    ],
)
def test_bad_configs_name_file_line_and_field(tmp_path, text, line, field, says):
    err = error(tmp_path, text)
    assert (err.row, err.column) == (line, field), err.message
    assert f" line {line}: {field}: " in err.message
    assert says in err.message


def test_experiment_in_two_layers(tmp_path):
    err = error(tmp_path, GOOD + "  m:\n    shares:\n      a: [0, 10]\n")
    assert "already in layer 'l'" in err.message
    assert err.row == 19


def test_yaml_syntax_error_names_the_line(tmp_path):
    err = error(tmp_path, "experiments:\n  a: {unit: member_id\n  b: 1\n")
    assert "not valid YAML" in err.message
    assert err.row == 3


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(DataValidationError, match="does not exist") as info:
        Experiments.load(tmp_path / "nope.yaml")
    assert info.value.code == "file_not_found"
    err = error(tmp_path, "")
    assert "is empty" in err.message


def test_layer_salt_must_differ_from_its_experiments(tmp_path):
    err = error(tmp_path, GOOD.replace("  l:\n    shares:", "  l:\n    salt: b\n    shares:"))
    assert (err.row, err.column) == (17, "layers.l.shares.b")
    assert "uses the layer's salt 'b'" in err.message


def test_missing_weight_and_shares(tmp_path):
    err = error(tmp_path, GOOD.replace("variants: {x: 1}", "variants: {x: {payload: {}}}"))
    assert (err.row, err.column) == (11, "experiments.b.variants.x.weight")
    err = error(
        tmp_path,
        GOOD.replace("    shares:\n      a: [0, 50]\n      b: [50, 100]\n", "    salt: s\n"),
    )
    assert (err.row, err.column) == (13, "layers.l.shares")
