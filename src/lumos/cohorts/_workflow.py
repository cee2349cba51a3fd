"""A small workflow executor: operators in a DAG, run concurrently with a timeout each.

Each operator starts as soon as the operators it needs are done, so
independent chains (one first-pass ranker's fetch → transform, and the next
one's) overlap. An operator that fails or runs past its timeout is recorded
and its dependents are skipped — unless a dependent is ``partial``: it then
runs on the outputs that did arrive (the merge of the first-pass rankers
runs with those that answered in time).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from lumos.errors import LumosUserError


@dataclass(frozen=True)
class Operator:
    """One step of a workflow.

    Parameters
    ----------
    name : str
    run : callable
        Called with the outputs of ``needs`` as keyword arguments (by name);
        may be a coroutine function.
    needs : tuple of str
        The operators whose outputs it takes.
    timeout : float, optional
        Seconds; past them the operator is cancelled and counted as failed.
    partial : bool
        Run even when some of ``needs`` failed, on the outputs that exist.
    abandon : bool
        Past the timeout, stop waiting but let the work finish on its own
        (an HTTP fetch then hands its connection back to the pool instead of
        closing it); by default it is cancelled.
    """

    name: str
    run: Callable
    needs: tuple[str, ...] = ()
    timeout: float | None = None
    partial: bool = False
    abandon: bool = False


@dataclass
class Outcome:
    """What a workflow run produced: outputs, failures (name → reason) and seconds taken."""

    outputs: dict = field(default_factory=dict)
    failures: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)


class Workflow:
    """Operators in a DAG, run with :meth:`run`.

    Examples
    --------
    >>> async def fetch():
    ...     await asyncio.sleep(0.01)
    ...     return [3, 1, 2]
    >>> async def slow():
    ...     await asyncio.sleep(1)
    >>> flow = Workflow([
    ...     Operator("fetch", fetch), Operator("sort", lambda fetch: sorted(fetch), ("fetch",)),
    ...     Operator("slow", slow, timeout=0.05),
    ...     Operator("merge", lambda **got: sorted(got), ("sort", "slow"), partial=True)])
    >>> out = asyncio.run(flow.run())
    >>> out.outputs["merge"], out.failures
    (['sort'], {'slow': 'timeout'})
    """

    def __init__(self, operators: list[Operator]):
        self.operators = {}
        for op in operators:
            if op.name in self.operators:
                raise LumosUserError(f"two operators are named {op.name!r}.", code="bad_workflow")
            self.operators[op.name] = op
        for op in operators:
            for need in op.needs:
                if need not in self.operators:
                    raise LumosUserError(
                        f"operator {op.name!r} needs {need!r}, which is not in the workflow.",
                        code="bad_workflow",
                    )
        self._check_acyclic()

    def _check_acyclic(self) -> None:
        state: dict[str, int] = {}

        def visit(name, path):
            if state.get(name) == 1:
                raise LumosUserError(
                    f"the workflow has a cycle: {' → '.join([*path, name])}.", code="bad_workflow"
                )
            if state.get(name) == 2:
                return
            state[name] = 1
            for need in self.operators[name].needs:
                visit(need, [*path, name])
            state[name] = 2

        for name in self.operators:
            visit(name, [])

    async def run(self, **inputs) -> Outcome:
        """Run every operator once; ``inputs`` are outputs given up front (by name)."""
        out = Outcome(outputs=dict(inputs))
        done = {name: asyncio.get_running_loop().create_future() for name in self.operators}

        async def one(op: Operator):
            try:
                for need in op.needs:
                    await asyncio.shield(done[need])
                missing = [n for n in op.needs if n not in out.outputs]
                if missing and not op.partial:
                    out.failures[op.name] = f"skipped: {missing[0]} failed"
                    return
                args = {n: out.outputs[n] for n in op.needs if n in out.outputs}
                started = time.perf_counter()
                try:
                    result = op.run(**args)
                    if inspect.isawaitable(result):
                        result = await _within(result, op.timeout, op.abandon)
                    elif op.timeout is not None and time.perf_counter() - started > op.timeout:
                        raise TimeoutError
                    out.outputs[op.name] = result
                except TimeoutError:
                    out.failures[op.name] = "timeout"
                except Exception as exc:  # a failing operator is recorded, never raised
                    out.failures[op.name] = f"error: {type(exc).__name__}: {exc}"
                out.seconds[op.name] = time.perf_counter() - started
            finally:
                done[op.name].set_result(None)

        await asyncio.gather(*(one(op) for op in self.operators.values()))
        return out


async def _within(awaitable, timeout: float | None, abandon: bool = False):
    """Await with a timeout; past it, cancel (or abandon) and move on at once.

    ``asyncio.wait_for`` waits until the cancelled work has unwound (an HTTP
    client closing its connection, say), which the caller need not.
    """
    task = asyncio.ensure_future(awaitable)
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout)
    except asyncio.CancelledError:  # the whole run was cancelled: so is its work
        task.cancel()
        raise
    if not done:
        if not abandon:
            task.cancel()
        task.add_done_callback(_quiet)
        raise TimeoutError
    return task.result()


def _quiet(task: asyncio.Task) -> None:
    if not task.cancelled():
        task.exception()  # retrieved: no "exception was never retrieved" warning
