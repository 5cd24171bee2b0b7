"""What every log line of a run carries besides its message: the run id and the stage it comes from.

The run sets its id once; each stage is entered on the thread that runs it (the two loads run on threads of
their own, so the stage is kept per thread). A line from a thread that entered no stage (a library's
helper thread) carries the stage the run's main thread is in; between stages, that is ``run``. Progress
lines pass their figures as ``extra`` (``FIELDS``) so that a JSON log has them as fields, not only inside the
message text.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# the ``extra`` fields a JSON line carries when a record has them
FIELDS: tuple[str, ...] = ("target", "done", "total", "percent", "rate", "eta_s", "unit", "tasks_done", "tasks_total")

_state: dict[str, str | None] = {"run_id": None, "stage": None}
_local = threading.local()


def set_run(run_id: str | None) -> None:
    """From now on every line carries ``run_id``; a line outside any stage has the stage ``run``."""
    _state["run_id"] = run_id
    _state["stage"] = "run" if run_id else None


def current_stage() -> str | None:
    stack: list[str] = getattr(_local, "stages", [])
    return stack[-1] if stack else _state["stage"]


def stage_of(exc: BaseException) -> str | None:
    """The innermost stage an exception left (None: it was raised outside every stage)."""
    return getattr(exc, "migration_stage", None)


@contextmanager
def in_stage(name: str) -> Iterator[None]:
    """Lines logged in the block carry ``stage`` = ``name``; an exception leaving it is tagged with the
    innermost stage it came from (:func:`stage_of`), whichever thread it is raised again on."""
    stack: list[str] = getattr(_local, "stages", None) or []
    _local.stages = [*stack, name]
    outer = _state["stage"]
    if threading.current_thread() is threading.main_thread():
        _state["stage"] = name
    try:
        yield
    except BaseException as exc:
        if stage_of(exc) is None:
            try:
                exc.migration_stage = name  # type: ignore[attr-defined]
            except AttributeError:  # an exception type without a __dict__
                pass
        raise
    finally:
        _local.stages = stack
        if threading.current_thread() is threading.main_thread():
            _state["stage"] = outer


class ContextFilter(logging.Filter):
    """Adds ``run_id`` and ``stage`` to every record (a record's own ``extra`` wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "run_id", None) is None:
            record.run_id = _state["run_id"]
        if getattr(record, "stage", None) is None:
            record.stage = current_stage()
        return True
