"""How many BLAS threads training uses: by the size of a step, or as the user says."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

from nnc.base.machine import capped_threads, cores
from nnc.compiler.plan import Plan
from nnc.compiler.sizing import node_counts

SMALL_STEP_MACS = 4_000_000  # below this, one BLAS thread beats waking a second one


def choose_threads(plan: Plan, batch: int, threads: int | None = None) -> int:
    """BLAS threads for training ``plan`` at ``batch``: ``threads`` if given (at most the
    machine's cores), else one for small steps (thread wake-up costs more than it saves)
    and every core for large ones."""
    if threads:
        return capped_threads(threads)[0]
    step_macs = batch * sum(n.counts.macs for n in node_counts(plan.graph))
    return 1 if step_macs < SMALL_STEP_MACS else cores()


def blas_threads(threads: int | None) -> AbstractContextManager[object]:
    """A context limiting BLAS threads (threadpoolctl), or nothing when ``threads`` is None."""
    if threads is None:
        return nullcontext()
    from threadpoolctl import threadpool_limits

    limits: AbstractContextManager[object] = threadpool_limits(limits=threads, user_api="blas")
    return limits
