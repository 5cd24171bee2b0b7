"""What a run is asked to do: its id, targets, selection and mode (no Spark, no AWS: the CLI builds it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

TARGETS: tuple[str, ...] = ("dynamodb", "aurora")


@dataclass(frozen=True)
class RunOptions:
    run_id: str
    targets: tuple[str, ...] = TARGETS
    date_from: date | None = None
    date_to: date | None = None
    properties: tuple[str, ...] = ()
    dry_run: bool = False
    code_version: str = "unknown"
    plan_scale: int | None = None  # dry run: extrapolate the plan to this many reservations ...
    plan_cluster: str | None = None  # ... on this cluster ("10 x m5.4xlarge")
    resume: bool = False  # --resume: an earlier attempt of this run id; its finished chunks are skipped

    @property
    def selecting(self) -> bool:
        """A window or a set of hotels: part of the input is not the run's."""
        return bool(self.date_from or self.date_to or self.properties)

    def selection(self) -> dict[str, Any]:
        return {
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
            "properties": list(self.properties),
            "targets": list(self.targets),
        }
