"""Both targets load at once (two Spark jobs from two driver threads), and one failing leaves the other whole."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.faults import FaultProxy
from tests.integration.conftest import LOOSE_GATE
from tests.integration.harness import fresh_targets, run_migrate

pytestmark = pytest.mark.integration


def test_the_loads_overlap_and_a_failing_target_leaves_the_other_complete(small_sample, moto, postgres, tmp_path):
    data_dir, truth = small_sample
    loaded = truth["counts"]["reservations_loaded"]
    targets = fresh_targets(moto, postgres, "both_at_once")
    # GIVEN four task slots (two DynamoDB writers, two Aurora connections) and a DynamoDB endpoint that
    # answers every BatchWriteItem with HTTP 500
    broken = FaultProxy(moto.url, operation="BatchWriteItem", failure_rate=1.0)
    with broken.serve() as url:
        result = run_migrate(data_dir, tmp_path, targets, *LOOSE_GATE, "--set", "dynamodb.max_attempts=3",
                             "--set", "spark.master=local[4]", run_id="both", endpoint=url)  # fmt: skip
    # THEN DynamoDB's batched items are all in failed_writes/ (exit 4; live hotels' items, single guarded
    # PutItems, got through) and Aurora holds every reservation
    assert result.code == 4, result.stderr[-3000:]
    assert result.manifest is not None
    counts = result.manifest["counts"]["targets"]
    assert counts["aurora"] == {"written": loaded, "kept_newer": 0, "failed": 0}
    assert targets.sql("SELECT count(*) FROM reservations") == [(loaded,)]
    dynamo = counts["dynamodb"]
    assert dynamo["failed"] > loaded // 2 and dynamo["written"] + dynamo["failed"] == loaded
    assert len(targets.items()) == dynamo["written"]
    assert result.manifest["chunks"] == 2  # the slots Aurora's connections leave
    # AND the two loads ran at the same time: Aurora committed rows while DynamoDB's writers were still calling
    stats = result.manifest["write_stats"]
    window = {t: (datetime.fromisoformat(stats[t]["started_at"]), datetime.fromisoformat(stats[t]["finished_at"]))
              for t in ("dynamodb", "aurora")}  # fmt: skip
    assert window["dynamodb"][0] < window["aurora"][1] and window["aurora"][0] < window["dynamodb"][1], window
    ((first_commit,),) = targets.sql("SELECT extract(epoch FROM min(loaded_at)) FROM reservations")
    assert len(broken.times) > 2 * loaded // 25 and float(first_commit) < max(broken.times), (
        first_commit,
        broken.times[-1],
    )
