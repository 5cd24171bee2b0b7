"""What the Aurora writers in the executors are handed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class AuroraSettings:
    conninfo: str
    run_id: str
    max_attempts: int  # tries of a transaction that fails transiently, at least ...
    retry_deadline_s: float = 0.0  # ... and beyond that for as long as this after its first failure
    path: str = "backfill"  # initial | backfill
    attempt: str = ""  # the run's attempt: the initial load's part markers (migration_load_parts) are its own
    rows_per_transaction: int = 50_000
    progress_uri: str | None = None  # folder of the tasks' counter files (loaders.progress)
    progress_interval_s: float = 30.0
    progress_prefix: str = "part"  # of the counter files: each pass of a load has its own, summed together
    markers_uri: str | None = None  # folder of the chunks' completion markers (loaders.chunks)
    done: Mapping[int, Mapping[str, Any]] | None = None  # chunks a resumed run skips, with their counters

    @property
    def parts_key(self) -> str:
        """The ``run_id`` under which this attempt's initial-load parts are recorded."""
        return f"{self.run_id}#{self.attempt}" if self.attempt else self.run_id
