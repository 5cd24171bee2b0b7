"""CloudWatch metrics of a run, from the driver: the loads' counters once per progress interval, and at the
end what is left plus the quality gate's result.

Namespace ``metrics.namespace``; each load metric has the dimensions RunId, Env and Target, and its value is
what the target's writers did since the previous call (so a metric's Sum over a period is what that period
did); ``QualityGatePassed`` (1 or 0) has RunId and Env. One ``PutMetricData`` call per interval carries every
target's metrics. Metrics are advisory: a call that fails is logged (once) and its figures go out with the
next call; it never fails the run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

from pipeline.config import Config

log = logging.getLogger("migration")

# counter (loaders.progress) -> metric name
LOAD_METRICS: dict[str, str] = {
    "written": "ItemsWritten",
    "write_units": "WriteUnits",
    "throttles": "Throttles",
    "retries": "Retries",
    "failed": "Failures",
    "kept_newer": "KeptNewer",
}
GATE_METRIC = "QualityGatePassed"


class Metrics:
    def __init__(self, client: Any, *, namespace: str, run_id: str, env: str) -> None:
        self.client = client
        self.namespace = namespace
        self.dimensions = [{"Name": "RunId", "Value": run_id}, {"Name": "Env", "Value": env}]
        self.sent: dict[str, dict[str, float]] = {}  # per target, the totals already published
        self._warned = False
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, cfg: Config, run_id: str) -> Metrics | None:
        """None when metrics are off, or when no client can be made (logged: metrics never fail a run)."""
        if not cfg.metrics.enabled:
            return None
        import boto3
        from botocore.config import Config as BotoConfig

        try:
            client = boto3.client(
                "cloudwatch",
                region_name=cfg.metrics.region or cfg.dynamodb.region,
                endpoint_url=cfg.metrics.endpoint_url,
                config=BotoConfig(connect_timeout=5, read_timeout=10, retries={"mode": "standard", "max_attempts": 3}),
            )
        except Exception as exc:
            log.warning("metrics: off for this run, no CloudWatch client (%s: %s)", type(exc).__name__, exc)
            return None
        return cls(client, namespace=cfg.metrics.namespace, run_id=run_id, env=cfg.env)

    def starting_from(self, target: str, counters: Mapping[str, float]) -> None:
        """A load's counters at its start (a resumed run's earlier attempt counted them): not published again."""
        with self._lock:
            self.sent.setdefault(target, {c: float(counters.get(c, 0)) for c in LOAD_METRICS})

    def publish(self, totals: Mapping[str, Mapping[str, float]], *, gate_passed: bool | None = None) -> None:
        """``totals``: each target's counters since its load started. One call, nothing when there is nothing."""
        with self._lock:
            data: list[dict[str, Any]] = []
            for target, counters in sorted(totals.items()):
                before = self.sent.get(target, {})
                dims = [*self.dimensions, {"Name": "Target", "Value": target}]
                for counter, name in LOAD_METRICS.items():
                    delta = max(0.0, float(counters.get(counter, 0)) - before.get(counter, 0.0))
                    data.append({"MetricName": name, "Dimensions": dims, "Value": delta, "Unit": "Count"})
            if gate_passed is not None:
                data.append({"MetricName": GATE_METRIC, "Dimensions": self.dimensions,
                             "Value": 1.0 if gate_passed else 0.0, "Unit": "Count"})  # fmt: skip
            if not data:
                return
            try:
                self.client.put_metric_data(Namespace=self.namespace, MetricData=data)
            except Exception as exc:
                if not self._warned:
                    log.warning("metrics: PutMetricData failed (%s); the figures go out with the next call",
                                type(exc).__name__)  # fmt: skip
                    self._warned = True
                return
            for target, counters in totals.items():
                self.sent[target] = {c: float(counters.get(c, 0)) for c in LOAD_METRICS}
