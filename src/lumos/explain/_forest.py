"""Tree ensembles in one flat array form, imported from XGBoost, LightGBM and scikit-learn.

Every node of every tree is a row of parallel arrays: its children (absolute
node indices, ``-1`` at a leaf), split feature and threshold, how the split
decides (``x < t`` for XGBoost, ``x <= t`` for LightGBM and scikit-learn, or
a category set), where a missing value goes, its leaf value and its cover (the
training weight that reached it: XGBoost's hessian sums, LightGBM's counts,
scikit-learn's weighted samples — the cover each library's own TreeSHAP uses).
Trees know the output (class) they add to, and each output has an offset: the
base score, read off the library's own margin so every objective's link and
base score are right.

The decision rules are the libraries' own:

* XGBoost: a missing value goes to the default child; a categorical split
  sends the categories in its set right and every other value left.
* LightGBM: with missing type ``NaN`` a missing value goes to the default
  child; with ``Zero``, zero and missing do; with ``None``, a missing value
  counts as 0. A categorical split sends its categories left, and a missing
  or negative value right.
* scikit-learn: ``x <= t`` goes left; a missing value goes where the tree
  learned to send it (``missing_go_to_left``), else right.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from lumos.errors import LumosUserError

# split kinds
LESS, LESS_EQUAL, CATEGORY = 0, 1, 2
# missing-value rules
MISSING_DEFAULT, MISSING_AS_ZERO, ZERO_OR_MISSING_DEFAULT = 0, 1, 2


@dataclass
class Forest:
    """A tree ensemble as flat node arrays (see the module's docstring)."""

    left: np.ndarray  # int32, -1 at leaves
    right: np.ndarray
    feature: np.ndarray  # int32
    threshold: np.ndarray  # float64
    kind: np.ndarray  # int8: LESS, LESS_EQUAL, CATEGORY
    missing: np.ndarray  # int8: MISSING_DEFAULT, MISSING_AS_ZERO, ZERO_OR_MISSING_DEFAULT
    default_left: np.ndarray  # int8
    cat_start: np.ndarray  # int32 into cat_values
    cat_len: np.ndarray  # int32
    cat_left: np.ndarray  # int8: 1 if the set goes left (LightGBM), 0 if right (XGBoost)
    cat_values: np.ndarray  # float64, each node's categories sorted
    value: np.ndarray  # float64 leaf values
    cover: np.ndarray  # float64
    roots: np.ndarray  # int32, one per tree
    group: np.ndarray  # int32, the output each tree adds to
    n_groups: int
    n_features: int
    offset: np.ndarray  # float64 per output
    float32_inputs: bool = False  # XGBoost compares float32 values: inputs are rounded to it

    @property
    def n_trees(self) -> int:
        return len(self.roots)

    @property
    def max_depth(self) -> int:
        depth = np.zeros(len(self.left), dtype=np.int64)
        best = 0
        for root in self.roots:
            stack = [root]
            depth[root] = 0
            while stack:
                node = stack.pop()
                if self.left[node] >= 0:
                    for child in (self.left[node], self.right[node]):
                        depth[child] = depth[node] + 1
                        best = max(best, int(depth[child]))
                        stack.append(child)
        return best


_COLUMNS = {  # name: dtype
    "left": np.int32,
    "right": np.int32,
    "feature": np.int32,
    "threshold": np.float64,
    "kind": np.int8,
    "missing": np.int8,
    "default_left": np.int8,
    "cat_start": np.int32,
    "cat_len": np.int32,
    "cat_left": np.int8,
    "value": np.float64,
    "cover": np.float64,
}


class _Builder:
    """Collects trees as arrays, then packs them into one :class:`Forest`."""

    def __init__(self):
        self.parts: list[dict] = []
        self.cats: list[np.ndarray] = []
        self.n_nodes = self.n_cats = 0
        self.roots: list[int] = []
        self.group: list[int] = []

    def arrays(
        self,
        group: int,
        *,
        left,
        right,
        feature,
        cover,
        threshold=None,
        value=None,
        kind=None,
        missing=None,
        default_left=None,
        cats=None,
        cat_left=None,
    ) -> None:
        """One tree from per-node arrays; children are indices within the tree (-1: a leaf).

        ``cats`` maps a node to its category set; omitted arrays take their defaults.
        """
        n = len(left)
        left = np.asarray(left, dtype=np.int64)
        leaf = left < 0
        part = {
            "left": np.where(leaf, -1, left + self.n_nodes),
            "right": np.where(leaf, -1, np.asarray(right, dtype=np.int64) + self.n_nodes),
            "feature": np.where(leaf, 0, feature),
            "threshold": np.zeros(n) if threshold is None else np.where(leaf, 0.0, threshold),
            "value": np.where(leaf, 0.0 if value is None else value, 0.0),
            "cover": cover,
            "kind": np.full(n, LESS) if kind is None else kind,
            "missing": np.full(n, MISSING_DEFAULT) if missing is None else missing,
            "default_left": np.zeros(n) if default_left is None else default_left,
            "cat_left": np.zeros(n) if cat_left is None else cat_left,
            "cat_start": np.full(n, self.n_cats),
            "cat_len": np.zeros(n),
        }
        for node, values in (cats or {}).items():
            values = np.sort(np.asarray(values, dtype=np.float64))
            part["cat_start"][node] = self.n_cats
            part["cat_len"][node] = len(values)
            self.cats.append(values)
            self.n_cats += len(values)
        self.parts.append({k: np.asarray(part[k], dtype=t) for k, t in _COLUMNS.items()})
        self.roots.append(self.n_nodes)
        self.group.append(group)
        self.n_nodes += n

    def tree(self, nodes: list[dict], group: int) -> None:
        """One tree from a node list (dicts of the :meth:`arrays` fields, leaves without "left")."""
        get = {
            k: [node.get(k, d) for node in nodes]
            for k, d in (
                ("left", -1),
                ("right", -1),
                ("feature", 0),
                ("threshold", 0.0),
                ("value", 0.0),
                ("cover", 0.0),
                ("kind", LESS),
                ("missing", MISSING_DEFAULT),
                ("default_left", False),
                ("cat_left", False),
            )
        }
        cats = {i: node["cats"] for i, node in enumerate(nodes) if node.get("cats") is not None}
        self.arrays(group, cats=cats, **get)

    def build(self, n_groups: int, n_features: int) -> Forest:
        arrays = {k: np.concatenate([p[k] for p in self.parts]) for k in _COLUMNS}
        return Forest(
            **arrays,
            cat_values=np.concatenate(self.cats) if self.cats else np.zeros(0),
            roots=np.asarray(self.roots, dtype=np.int32),
            group=np.asarray(self.group, dtype=np.int32),
            n_groups=n_groups,
            n_features=n_features,
            offset=np.zeros(n_groups),
        )


def from_xgboost(booster) -> Forest:
    """A :class:`Forest` from an XGBoost ``Booster`` (its JSON model)."""
    model = json.loads(booster.save_raw("json"))["learner"]
    params = model["learner_model_param"]
    gbm = model["gradient_booster"]
    if gbm.get("name") == "dart":
        raise LumosUserError(
            "Lumos's TreeSHAP does not read DART boosters (their trees are re-weighted)",
            code="unsupported_model",
        )
    if gbm.get("name", "gbtree") != "gbtree" or "model" not in gbm:
        raise LumosUserError(
            f"Lumos's TreeSHAP reads gbtree boosters; this one is {gbm.get('name')!r}",
            code="unsupported_model",
        )
    trees = gbm["model"]["trees"]
    info = gbm["model"]["tree_info"]
    n_groups = max(1, int(params.get("num_class", "0") or 0), int(params.get("num_target", 1)))
    builder = _Builder()
    for tree, group in zip(trees, info, strict=True):
        if int(tree["tree_param"].get("size_leaf_vector", "1")) > 1:
            raise LumosUserError(
                "Lumos's TreeSHAP does not read multi-target trees (vector leaves)",
                code="unsupported_model",
            )
        cats = {
            node: tree["categories"][start : start + size]
            for node, start, size in zip(
                tree["categories_nodes"],
                tree["categories_segments"],
                tree["categories_sizes"],
                strict=True,
            )
        }
        split_type = np.asarray(tree["split_type"])
        conditions = np.asarray(tree["split_conditions"], dtype=np.float32).astype(np.float64)
        builder.arrays(
            int(group),
            left=tree["left_children"],
            right=tree["right_children"],
            feature=tree["split_indices"],
            cover=tree["sum_hessian"],
            threshold=conditions,  # XGBoost's float32 values, exactly
            value=conditions,  # a leaf's value sits where a split's threshold would
            default_left=tree["default_left"],
            kind=np.where(split_type == 1, CATEGORY, LESS),
            cats=cats,
        )
    forest = builder.build(n_groups, int(params["num_feature"]))
    forest.float32_inputs = True
    return forest


def from_lightgbm(booster) -> Forest:
    """A :class:`Forest` from a LightGBM ``Booster`` (its model dump)."""
    model = booster.dump_model()
    if model.get("average_output"):
        raise LumosUserError(
            "Lumos's TreeSHAP does not read LightGBM random forests (average_output)",
            code="unsupported_model",
        )
    per_iteration = int(model.get("num_tree_per_iteration", 1))
    builder = _Builder()
    missing_rules = {
        "None": MISSING_AS_ZERO,
        "Zero": ZERO_OR_MISSING_DEFAULT,
        "NaN": MISSING_DEFAULT,
    }
    for info in model["tree_info"]:
        if info.get("is_linear"):
            raise LumosUserError(
                "Lumos's TreeSHAP does not read linear-tree LightGBM models",
                code="unsupported_model",
            )
        nodes: list[dict] = []

        def add(n, nodes=nodes):
            at = len(nodes)
            nodes.append({})
            if "leaf_value" in n or "split_feature" not in n:
                nodes[at] = {"value": n.get("leaf_value", 0.0), "cover": n.get("leaf_count", 0)}
                return at
            node = {
                "feature": n["split_feature"],
                "cover": n["internal_count"],
                "default_left": bool(n.get("default_left", False)),
                "missing": missing_rules[n.get("missing_type", "None")],
            }
            if n["decision_type"] == "==":
                cats = [float(c) for c in str(n["threshold"]).split("||")]
                node.update(kind=CATEGORY, cats=cats, cat_left=True)
            else:
                node.update(kind=LESS_EQUAL, threshold=float(n["threshold"]))
            node["left"] = add(n["left_child"])
            node["right"] = add(n["right_child"])
            nodes[at] = node
            return at

        add(info["tree_structure"])
        builder.tree(nodes, info["tree_index"] % per_iteration)
    return builder.build(per_iteration, int(model["max_feature_idx"]) + 1)


def _sklearn_kinds() -> tuple[tuple, tuple, tuple]:
    """The scikit-learn classes :func:`from_sklearn` reads: single trees, forests, boosting."""
    from sklearn import ensemble
    from sklearn.tree import BaseDecisionTree

    forests = tuple(
        getattr(ensemble, f"{kind}{task}")
        for kind in ("RandomForest", "ExtraTrees")
        for task in ("Classifier", "Regressor")
    )
    boosters = (ensemble.GradientBoostingClassifier, ensemble.GradientBoostingRegressor)
    return (BaseDecisionTree,), forests, boosters


def reads_sklearn(estimator) -> bool:
    """Whether :func:`from_sklearn` reads ``estimator``."""
    single, forests, boosters = _sklearn_kinds()
    return isinstance(estimator, single + forests + boosters)


def from_sklearn(estimator) -> Forest:
    """A :class:`Forest` from a scikit-learn tree, random forest, extra trees or gradient boosting.

    Random forests and extra trees average their trees (each leaf value is
    divided by the number of trees); a classifier's outputs are its class
    probabilities, a gradient boosting model's its margin.
    """
    single, forests, boosters = _sklearn_kinds()
    builder = _Builder()
    if isinstance(estimator, single):
        trees, scale = [(estimator, None)], 1.0
    elif isinstance(estimator, forests):
        trees, scale = [(t, None) for t in estimator.estimators_], 1.0 / len(estimator.estimators_)
    elif isinstance(estimator, boosters):
        trees = [(t, k) for stage in estimator.estimators_ for k, t in enumerate(stage)]
        scale = estimator.learning_rate
    else:
        raise LumosUserError(
            f"Lumos's TreeSHAP reads scikit-learn trees, forests and gradient boosting; got "
            f"{type(estimator).__name__}",
            code="unsupported_model",
        )
    boosting = isinstance(estimator, boosters)
    classifier = hasattr(estimator, "classes_") and not boosting
    if classifier:
        n_groups = len(estimator.classes_)
    else:
        n_groups = estimator.estimators_.shape[1] if boosting else 1
    for tree, fixed_group in trees:
        t = tree.tree_
        go_left = getattr(t, "missing_go_to_left", np.zeros(t.node_count, dtype=np.uint8))
        values = t.value[:, 0, :]  # (nodes, classes) or (nodes, 1)
        if classifier:
            values = values / np.maximum(values.sum(axis=1, keepdims=True), 1e-300)
        outputs = range(values.shape[1]) if fixed_group is None else [fixed_group]
        for k, group in enumerate(outputs):
            column = k if fixed_group is None else 0
            nodes = []
            for i in range(t.node_count):
                node = {"cover": float(t.weighted_n_node_samples[i])}
                if t.children_left[i] < 0:
                    node["value"] = float(values[i, column]) * scale
                else:
                    node.update(
                        left=int(t.children_left[i]),
                        right=int(t.children_right[i]),
                        feature=int(t.feature[i]),
                        threshold=float(t.threshold[i]),
                        kind=LESS_EQUAL,
                        default_left=bool(go_left[i]),
                    )
                nodes.append(node)
            builder.tree(nodes, group)
    return builder.build(n_groups, int(estimator.n_features_in_))
