"""The experiments config: reading, checking and the objects it becomes.

``Experiments.load`` (in ``_experiments.py``) calls :func:`read_config`, which
walks PyYAML's node tree rather than plain dicts so that every error names the
file, the line and the field it found wrong, e.g.
``experiments.yaml line 12: experiments.course_ranker.coverage: must be a
number from 0 to 100; got 120.``
"""

from __future__ import annotations

import bisect
import math
import re
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path

import numpy as np
import yaml

from lumos.errors import DataValidationError
from lumos.experiments._hash import BUCKETS
from lumos.experiments._rules import Rule, RuleError

UNITS = ("member_id", "account_id")
TOP_KEYS = ("experiments", "layers")
EXPERIMENT_KEYS = ("unit", "salt", "description", "coverage", "variants", "targeting", "overrides")
VARIANT_KEYS = ("weight", "payload")
LAYER_KEYS = ("salt", "shares")
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")


@dataclass(frozen=True)
class Variant:
    """One arm of an experiment; it takes variant buckets ``[start, stop)``."""

    name: str
    weight: float
    payload: dict
    start: int
    stop: int


@dataclass(frozen=True)
class Experiment:
    """One checked experiment.

    Attributes
    ----------
    name, unit, salt, description : str
    coverage : float
        Percent of the (targeted, layer-eligible) units in the experiment.
    variants : tuple of Variant
        In config order; their bucket ranges tile ``[0, 10000)``.
    targeting : tuple of Rule
        All must hold for a unit to be eligible.
    overrides : dict of str to str
        Unit id (as text) → variant; they win over everything else.
    layer : str or None
    layer_range : (int, int) or None
        The layer buckets ``[start, stop)`` this experiment owns.
    """

    name: str
    unit: str
    salt: str
    coverage: float
    variants: tuple[Variant, ...]
    targeting: tuple[Rule, ...] = ()
    overrides: dict[str, str] = field(default_factory=dict)
    description: str = ""
    layer: str | None = None
    layer_range: tuple[int, int] | None = None

    @property
    def covered_buckets(self) -> int:
        """Coverage buckets ``[0, covered_buckets)`` are in: ``round(coverage * 100)``."""
        return round(self.coverage * 100)

    @property
    def variant_stops(self) -> np.ndarray:
        return np.array([v.stop for v in self.variants], dtype=np.int64)

    def variant_for_bucket(self, bucket: int) -> str:
        """The variant owning one variant bucket.

        Examples
        --------
        >>> from lumos.experiments import EXAMPLE_CONFIG, Experiments
        >>> exp = Experiments.load(EXAMPLE_CONFIG)["course_ranker"]
        >>> [(v.name, v.start, v.stop) for v in exp.variants]
        [('control', 0, 5000), ('glmix_v2', 5000, 10000)]
        >>> exp.variant_for_bucket(4999), exp.variant_for_bucket(5000)
        ('control', 'glmix_v2')
        """
        i = bisect.bisect_right([v.stop for v in self.variants], bucket)
        return self.variants[i].name

    def payload(self, variant: str) -> dict:
        for v in self.variants:
            if v.name == variant:
                return v.payload
        raise KeyError(variant)


@dataclass(frozen=True)
class Layer:
    """Experiments that never share a unit: each owns a range of the layer's buckets."""

    name: str
    salt: str
    shares: dict[str, tuple[int, int]]


def read_config(path) -> tuple[dict[str, Experiment], dict[str, Layer]]:
    """Read and check an experiments YAML file; raise DataValidationError on the first problem."""
    path = Path(path)
    if not path.is_file():
        raise DataValidationError(
            f"experiments config {str(path)!r} does not exist; write one like "
            "lumos/experiments/example.yaml.",
            code="file_not_found",
            file=str(path),
        )
    return parse_config(path.read_text(encoding="utf-8"), str(path))


def parse_config(text: str, source: str) -> tuple[dict[str, Experiment], dict[str, Layer]]:
    reader = _Reader(source)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise DataValidationError(
            f"{source}{where}: not valid YAML ({getattr(exc, 'problem', exc)}).",
            code="bad_experiments",
            file=source,
            row=mark.line + 1 if mark is not None else None,
        ) from exc
    if root is None:
        raise DataValidationError(
            f"{source}: is empty; it needs an 'experiments' mapping.",
            code="bad_experiments",
            file=source,
        )
    top = reader.mapping(root, "", TOP_KEYS)
    if "experiments" not in top:
        reader.fail(root, "experiments", "is missing; map each experiment's name to its settings.")
    experiments = {}
    for name, (key, node) in reader.mapping(top["experiments"][1], "experiments").items():
        reader.check_name(key, "experiments", name)
        experiments[name] = reader.experiment(name, key, node)
    layers = {}
    if "layers" in top:
        for name, (key, node) in reader.mapping(top["layers"][1], "layers").items():
            reader.check_name(key, "layers", name)
            layers[name] = reader.layer(name, key, node, experiments)
    return experiments, layers


class _Reader:
    def __init__(self, source: str):
        self.source = source
        self._construct = yaml.SafeLoader("")

    def fail(self, node, field: str, reason: str):
        line = node.start_mark.line + 1
        raise DataValidationError(
            f"{self.source} line {line}: {field}: {reason}",
            code="bad_experiments",
            file=self.source,
            row=line,
            column=field,
        )

    def value(self, node):
        return self._construct.construct_object(node, deep=True)

    def mapping(self, node, where: str, allowed=None) -> dict:
        label = where or "the file"
        if not isinstance(node, yaml.MappingNode):
            self.fail(node, where or "top level", f"{label} must be a mapping of keys to values.")
        out = {}
        for key, value in node.value:
            name = str(key.value) if isinstance(key, yaml.ScalarNode) else None
            field = f"{where}.{name}" if where else str(name)
            if name is None or name == "":
                self.fail(key, where or "top level", "keys must be plain text.")
            if name in out:
                self.fail(key, field, f"{name!r} appears twice; keep one.")
            if allowed is not None and name not in allowed:
                self.fail(
                    key, field, f"unknown key {name!r}; allowed keys are {', '.join(allowed)}."
                )
            out[name] = (key, value)
        return out

    def check_name(self, key, where: str, name: str):
        if not _NAME.match(name):
            self.fail(
                key,
                f"{where}.{name}",
                f"name {name!r} must use letters, digits, '_', '.' or '-' only.",
            )

    def text(self, node, field: str) -> str:
        if not isinstance(node, yaml.ScalarNode) or node.value == "":
            self.fail(node, field, "must be non-empty text.")
        return str(node.value)

    def number(self, node, field: str, low: float, high: float, what: str) -> float:
        value = self.value(node) if isinstance(node, yaml.ScalarNode) else None
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or not math.isfinite(value) or not low <= value <= high:
            got = node.value if isinstance(node, yaml.ScalarNode) else "a " + node.id
            self.fail(node, field, f"must be {what}; got {got}.")
        return value

    def experiment(self, name: str, key, node) -> Experiment:
        where = f"experiments.{name}"
        parts = self.mapping(node, where, EXPERIMENT_KEYS)
        for required in ("unit", "variants"):
            if required not in parts:
                self.fail(key, f"{where}.{required}", "is missing; every experiment needs one.")
        unit = self.text(parts["unit"][1], f"{where}.unit")
        if unit not in UNITS:
            self.fail(
                parts["unit"][1], f"{where}.unit", f"must be one of {', '.join(UNITS)}; got {unit}."
            )
        salt = self.text(parts["salt"][1], f"{where}.salt") if "salt" in parts else name
        description = (
            self.text(parts["description"][1], f"{where}.description")
            if "description" in parts
            else ""
        )
        coverage = 100.0
        if "coverage" in parts:
            coverage = self.number(
                parts["coverage"][1], f"{where}.coverage", 0, 100, "a number from 0 to 100 (%)"
            )
        variants = self.variants(*parts["variants"], f"{where}.variants")
        targeting = ()
        if "targeting" in parts:
            targeting = self.targeting(parts["targeting"][1], f"{where}.targeting")
        overrides = {}
        if "overrides" in parts:
            names = {v.name for v in variants}
            for unit_id, (_key, vnode) in self.mapping(
                parts["overrides"][1], f"{where}.overrides"
            ).items():
                variant = self.text(vnode, f"{where}.overrides.{unit_id}")
                if variant not in names:
                    self.fail(
                        vnode,
                        f"{where}.overrides.{unit_id}",
                        f"variant {variant!r} is not one of {', '.join(sorted(names))}.",
                    )
                overrides[unit_id] = variant
        return Experiment(
            name, unit, salt, float(coverage), variants, targeting, overrides, description
        )

    def variants(self, at, node, where: str) -> tuple[Variant, ...]:
        parts = self.mapping(node, where)
        if not parts:
            self.fail(at, where, "needs at least one variant.")
        specs = []
        for name, (key, vnode) in parts.items():
            self.check_name(key, where, name)
            field = f"{where}.{name}"
            payload: dict = {}
            if isinstance(vnode, yaml.MappingNode):
                vparts = self.mapping(vnode, field, VARIANT_KEYS)
                if "weight" not in vparts:
                    self.fail(key, f"{field}.weight", "is missing; give the variant a weight.")
                wnode = vparts["weight"][1]
                if "payload" in vparts:
                    pnode = vparts["payload"][1]
                    if not isinstance(pnode, yaml.MappingNode):
                        self.fail(
                            pnode, f"{field}.payload", "must be a mapping, e.g. {models: [m]}."
                        )
                    payload = self.value(pnode)
            else:
                wnode = vnode
            weight = self.number(wnode, f"{field}.weight", 0, math.inf, "a number >= 0")
            specs.append((name, weight, payload))
        total = sum(Fraction(str(w)) for _, w, _ in specs)
        if total <= 0:
            self.fail(at, where, "the weights sum to 0; give at least one variant a weight > 0.")
        out, cumulative, start = [], Fraction(0), 0
        for name, weight, payload in specs:
            cumulative += Fraction(str(weight))
            stop = math.floor(BUCKETS * cumulative / total)
            out.append(Variant(name, float(weight), payload, start, stop))
            start = stop
        return tuple(out)

    def targeting(self, node, where: str) -> tuple[Rule, ...]:
        items = node.value if isinstance(node, yaml.SequenceNode) else [node]
        rules = []
        for i, item in enumerate(items):
            field = f"{where}[{i}]" if isinstance(node, yaml.SequenceNode) else where
            if not isinstance(item, yaml.ScalarNode) or item.value == "":
                self.fail(item, field, 'a rule is text, e.g. seniority >= 3 or region == "EMEA".')
            try:
                rules.append(Rule(item.value))
            except RuleError as exc:
                self.fail(item, field, f"rule {item.value!r}: {exc.args[0]}.")
        return tuple(rules)

    def layer(self, name: str, at, node, experiments: dict[str, Experiment]) -> Layer:
        where = f"layers.{name}"
        parts = self.mapping(node, where, LAYER_KEYS)
        if "shares" not in parts:
            self.fail(at, f"{where}.shares", "is missing; map each experiment to [start, end] %.")
        salt = self.text(parts["salt"][1], f"{where}.salt") if "salt" in parts else name
        shares: dict[str, tuple[int, int]] = {}
        taken: list[tuple[int, int, str]] = []
        units = set()
        for exp, (key, snode) in self.mapping(parts["shares"][1], f"{where}.shares").items():
            field = f"{where}.shares.{exp}"
            if exp not in experiments:
                self.fail(key, field, f"no experiment is named {exp!r}.")
            if experiments[exp].layer is not None:
                self.fail(key, field, f"{exp!r} is already in layer {experiments[exp].layer!r}.")
            if not isinstance(snode, yaml.SequenceNode) or len(snode.value) != 2:
                self.fail(snode, field, "must be [start, end], percent of the layer, e.g. [0, 50].")
            lo, hi = (
                self.number(n, field, 0, 100, "a number from 0 to 100 (%)") for n in snode.value
            )
            start, stop = round(lo * 100), round(hi * 100)
            if start >= stop:
                self.fail(snode, field, f"start {lo} must be below end {hi}.")
            for other_start, other_stop, other in taken:
                if start < other_stop and other_start < stop:
                    self.fail(
                        snode,
                        field,
                        f"[{lo}, {hi}] overlaps {other!r}'s share "
                        f"[{other_start / 100:g}, {other_stop / 100:g}]; experiments in one "
                        "layer must not share buckets.",
                    )
            if experiments[exp].salt == salt:
                self.fail(
                    key,
                    field,
                    f"{exp!r} uses the layer's salt {salt!r}; its coverage would follow its "
                    "layer share. Give the layer or the experiment another salt.",
                )
            taken.append((start, stop, exp))
            units.add(experiments[exp].unit)
            if len(units) > 1:
                self.fail(key, field, "all experiments in a layer must have the same unit.")
            shares[exp] = (start, stop)
            experiments[exp] = replace(experiments[exp], layer=name, layer_range=(start, stop))
        return Layer(name, salt, shares)
