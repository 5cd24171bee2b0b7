"""Gate: the quarantine fraction against ``quality.max_quarantine_fraction`` and the great-expectations suite
on the clean set; either failing stops the run before anything is written."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pyspark.sql import DataFrame

from pipeline import quality
from pipeline.classify import VersionCounts
from storage.runfolder import RunFolder


@dataclass(frozen=True)
class GateResult:
    passed: bool
    quarantine_fraction: float
    max_quarantine_fraction: float
    reason: str | None
    suite: dict[str, Any]
    clean_reservations: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "quarantine_fraction": self.quarantine_fraction,
            "max_quarantine_fraction": self.max_quarantine_fraction,
            "reason": self.reason,
            "suite": self.suite,
            "clean_reservations": self.clean_reservations,
        }


def gate(
    counts: VersionCounts,
    clean_df: DataFrame,
    clean_count: int,
    *,
    suite_definition: dict[str, Any],
    max_fraction: float,
    folder: RunFolder,
    run_id: str,
) -> GateResult:
    total = sum(counts.by_bucket["input"].values())
    quarantined = sum(counts.by_bucket["quarantined"].values())
    fraction = quarantined / total if total else 0.0
    reasons = [] if fraction <= max_fraction else [f"quarantine fraction {fraction:.4%} exceeds {max_fraction:.4%}"]
    suite = quality.run_suite(clean_df, suite_definition, out_dir=folder.sub("quality"), run_id=run_id)
    if not suite.success:
        checks = "; ".join(
            f"{f['expectation']}({f['column']}): {f['unexpected_count']} unexpected" for f in suite.failed
        )
        reasons.append(f"suite failed: {checks}")
    return GateResult(
        passed=not reasons,
        quarantine_fraction=round(fraction, 6),
        max_quarantine_fraction=max_fraction,
        reason="; ".join(reasons) or None,
        suite=suite.as_dict(),
        clean_reservations=clean_count,
    )
