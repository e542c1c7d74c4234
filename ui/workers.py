"""Run a function off the GUI thread and get its result back on the GUI thread.

A thin layer over superqt's ``create_worker``: results and errors are delivered
through Qt signals (queued to the GUI thread), so callbacks may touch widgets.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from superqt.utils import create_worker


def run_in_thread(fn: Callable[..., Any], *args: Any,
                  on_done: Callable[[Any], None] | None = None,
                  on_error: Callable[[BaseException], None] | None = None,
                  on_yield: Callable[[Any], None] | None = None,
                  **kwargs: Any):
    """Start ``fn(*args, **kwargs)`` in a worker thread (generators yield progress).

    Returns the superqt worker (callers may ``quit()`` it to cancel a generator).
    """
    connect: dict[str, Callable] = {}
    if on_done is not None:
        connect["returned"] = on_done
    if on_error is not None:
        connect["errored"] = on_error  # given a handler, superqt does not re-raise
    if on_yield is not None:
        connect["yielded"] = on_yield
    return create_worker(fn, *args, _connect=connect, _start_thread=True, **kwargs)


def start_kept(workers: list, fn: Callable[..., Any], *args: Any,
               on_done: Callable[[Any], None] | None = None,
               on_error: Callable[[BaseException], None] | None = None):
    """:func:`run_in_thread`, the worker kept in ``workers`` until it finishes (a worker
    nothing refers to may be collected while it runs); returns the worker."""
    worker = run_in_thread(fn, *args, on_done=on_done, on_error=on_error)
    workers.append(worker)
    worker.finished.connect(lambda w=worker: workers.remove(w) if w in workers else None)
    return worker
