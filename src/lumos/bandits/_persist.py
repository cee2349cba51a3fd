"""Saving and loading policies: one ``.npz`` file that cannot run code.

The file holds the policy's arrays and a JSON header (its kind, parameters and
random state), read back with ``allow_pickle=False``. A loaded policy makes
the same decisions as the saved one would have: its random state travels with
it. NeuralTS saves the shipped network, with its training buffer and Adam's
state (a custom ``torch.nn.Module`` is yours to save).

The bytes are a function of the policy alone (every member of the archive has
the same fixed date), so a policy saved twice gives the same file and its
SHA-256 names it: :func:`policy_bytes` and :func:`policy_from_bytes` are the
same format in memory, what a shared offer state passes between processes.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np

from lumos.bandits._linear import EpsilonGreedy, LinearPolicy, LinTS
from lumos.bandits._neural import NeuralTS
from lumos.data import atomic_path
from lumos.errors import DataValidationError, LumosUserError

FORMAT, VERSION = "lumos.policy", 1


#: The date of every member of an archive: the bytes depend on the arrays alone.
_EPOCH = (1980, 1, 1, 0, 0, 0)


def npz_bytes(arrays: dict, meta: dict) -> bytes:
    """``arrays`` and a JSON header ``meta`` as the bytes of an ``.npz`` (what ``np.savez``
    writes, with fixed dates: the same arrays give the same bytes)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, value in {**arrays, "meta": np.array(json.dumps(meta))}.items():
            with archive.open(zipfile.ZipInfo(f"{name}.npy", _EPOCH), "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.asanyarray(value), allow_pickle=False)
    return buffer.getvalue()


def write_npz(path, arrays: dict, meta: dict) -> Path:
    """``arrays`` and a JSON header ``meta`` in one ``.npz`` at ``path``, written atomically."""
    return write_bytes(path, npz_bytes(arrays, meta))


def write_bytes(path, data: bytes) -> Path:
    """``data`` at ``path``, atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path


def read_npz(path, *, what: str, fmt: str, version: int, how: str) -> tuple[dict, dict]:
    """The arrays and header of a file :func:`write_npz` wrote, checked to be ``fmt`` ``version``.

    ``what`` names the thing in errors ("policy"), ``how`` says how to write one.
    Nothing is unpickled: the file cannot run code.
    """
    path = Path(path)
    if not path.is_file():
        raise DataValidationError(
            f"{what} file {str(path)!r} does not exist; check the path, or {how}.",
            code="file_not_found",
            file=str(path),
        )
    return _parse_npz(path, path, what=what, fmt=fmt, version=version, how=how)


def _parse_npz(source, path, *, what: str, fmt: str, version: int, how: str):
    """:func:`read_npz` of ``source`` (a path or a file object), named ``path`` in errors."""
    try:
        with np.load(source, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        meta = json.loads(str(arrays.pop("meta")))
        if not isinstance(meta, dict):
            raise ValueError("its header is not a JSON object")
    except (ValueError, OSError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise DataValidationError(
            f"{str(path)!r} is not a saved Lumos {what} ({exc}); {how}.",
            code="unreadable_file",
            file=str(path),
        ) from None
    check_format(meta, path, fmt, version, how)
    return arrays, meta


def check_format(meta: dict, path, fmt: str, version: int, how: str) -> None:
    """Refuse a header that is not ``fmt`` at ``version``, naming the file and what to do."""
    if meta.get("format") != fmt or meta.get("version") != version:
        raise DataValidationError(
            f"{str(path)!r} holds format {meta.get('format')!r} version {meta.get('version')!r}; "
            f"this Lumos reads {fmt!r} version {version} ({how}).",
            code="unreadable_file",
            file=str(path),
        )


def save_policy(policy, path) -> Path:
    """Write ``policy`` (LinTS, ε-greedy or NeuralTS) to the file ``path``, atomically."""
    return write_bytes(path, policy_bytes(policy))


def policy_bytes(policy) -> bytes:
    """``policy`` as the bytes of the file :func:`save_policy` writes."""
    meta = {"format": FORMAT, "version": VERSION, "rng": policy.rng.bit_generator.state}
    if isinstance(policy, LinearPolicy):
        meta["params"] = {
            "d_member": policy.d_member,
            "d_arm": policy.d_arm,
            "alpha": policy.alpha,
            "fit_intercept": policy.fit_intercept,
        }
        if isinstance(policy, LinTS):
            meta["kind"] = "LinTS"
            meta["params"].update(nu=policy.nu, n_propensity=policy.n_propensity)
        else:
            meta["kind"] = "EpsilonGreedy"
            meta["params"]["epsilon"] = policy.epsilon
        meta["n_updates"] = policy.n_updates
        arrays = {"precision": policy.precision, "b": policy.b}
    elif isinstance(policy, NeuralTS):
        if not policy.shipped:
            raise LumosUserError(
                "save_policy saves NeuralTS's shipped network only; save a custom network with "
                "torch.save.",
                code="bad_argument",
            )
        meta["kind"] = "NeuralTS"
        meta["params"] = {
            k: getattr(policy, k)
            for k in (
                "d_member",
                "d_arm",
                "hidden",
                "nu",
                "alpha",
                "fit_intercept",
                "lr",
                "steps",
                "batch_size",
                "max_pairs",
                "n_propensity",
                "train_every",
            )
        }
        meta["n_updates"], meta["head"] = policy.n_updates, policy._head
        meta["update_calls"] = policy._updates
        arrays = {"x": policy._x[: policy._count], "r": policy._r[: policy._count]}
        arrays["generator"] = policy._generator.get_state().numpy()
        for name, p in policy.network.named_parameters():
            arrays[f"w/{name}"] = p.detach().numpy()
            arrays[f"w0/{name}"] = policy._initial[name].numpy()
            arrays[f"U/{name}"] = policy.U[name]
        for i, state in policy._optimizer.state_dict()["state"].items():
            for key, value in state.items():
                arrays[f"adam/{i}/{key}"] = np.asarray(value)
    else:
        raise LumosUserError(
            f"save_policy saves LinTS, EpsilonGreedy and NeuralTS; got {type(policy).__name__}.",
            code="bad_argument",
        )
    return npz_bytes(arrays, meta)


_HOW = "save one with lumos offers retrain"


def load_policy(path):
    """Read a policy written by :func:`save_policy`."""
    return _policy(*read_npz(path, what="policy", fmt=FORMAT, version=VERSION, how=_HOW))


def policy_from_bytes(data: bytes, *, source: str = "a policy snapshot"):
    """The policy :func:`policy_bytes` gave ``data`` for (``source`` names it in errors)."""
    parsed = _parse_npz(
        io.BytesIO(data), source, what="policy", fmt=FORMAT, version=VERSION, how=_HOW
    )
    return _policy(*parsed)


def _policy(arrays: dict, meta: dict):
    kind = {"LinTS": LinTS, "EpsilonGreedy": EpsilonGreedy, "NeuralTS": NeuralTS}[meta["kind"]]
    # a file saved before the intercept was a setting holds a policy without one
    policy = kind(**{"fit_intercept": False, **meta["params"]})
    if isinstance(policy, LinearPolicy):
        policy.precision, policy.b = arrays["precision"], arrays["b"]
        policy.n_updates = meta["n_updates"]
        policy._solve()
    else:
        import torch

        with torch.no_grad():
            for name, p in policy.network.named_parameters():
                p.copy_(torch.from_numpy(arrays[f"w/{name}"]))
                policy._initial[name] = torch.from_numpy(arrays[f"w0/{name}"]).clone()
                policy.U[name] = arrays[f"U/{name}"]
        policy._forget()
        policy._remember(arrays["x"], arrays["r"])
        policy.n_updates, policy._updates = meta["n_updates"], meta["update_calls"]
        if policy._count == policy.max_pairs:  # a full ring: the next write goes where it did
            policy._head = meta["head"]
        policy._generator.set_state(torch.from_numpy(arrays["generator"]))
        saved = policy._optimizer.state_dict()
        for name, value in arrays.items():
            if name.startswith("adam/"):
                _, i, key = name.split("/")
                saved["state"].setdefault(int(i), {})[key] = torch.from_numpy(value)
        policy._optimizer.load_state_dict(saved)
        policy._sync()
    policy.rng.bit_generator.state = meta["rng"]
    return policy
