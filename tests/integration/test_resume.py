"""--resume (#5): a run whose driver is killed (SIGKILL) in the middle of its load, then resumed, ends with
the targets and the manifest counts of an uninterrupted run, without writing the finished chunks again."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.faults import ThrottlingProxy, put_units
from tests.integration.conftest import LOOSE_GATE, ReferenceRun
from tests.integration.harness import (
    ROOT,
    comparable_items,
    comparable_rows,
    fresh_targets,
    migrate_command,
    run_migrate,
)

# One xdist worker runs every test of the shared reference run (it is computed once per worker).
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("reference_run")]
CHUNKS = 8  # four waves of two tasks (local[2]): the kill lands between finished and unfinished chunks
RATE = 200  # write units/s: the DynamoDB load takes about 12 s


def _kill_tree(pid: int) -> None:
    """SIGKILL a process and every descendant at once, as when the driver's node dies. Not only its process
    group: PySpark's worker daemon puts itself and the Python workers in a group of their own, and a worker
    that outlived its JVM for a moment could still commit a chunk and write its marker."""
    os.killpg(pid, signal.SIGSTOP)  # the driver and its JVM frozen: no new Python worker starts meanwhile
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) if entry.name.isdigit() else None
        except (OSError, IndexError, ValueError):
            continue
        if ppid is not None:
            children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        tree.append(todo.pop())
        todo.extend(children.get(tree[-1], []))
    for each in tree:
        with contextlib.suppress(ProcessLookupError):
            os.kill(each, signal.SIGKILL)
    os.killpg(pid, signal.SIGKILL)


def _markers(run_dir: Path, target: str) -> list[str]:
    folder = run_dir / "chunks" / target
    return sorted(p.name for p in folder.glob("chunk-*.json")) if folder.is_dir() else []


def test_a_run_killed_mid_load_and_resumed_equals_an_uninterrupted_run(
    small_sample, reference_run: ReferenceRun, moto, postgres, tmp_path
):
    data_dir, _ = small_sample
    targets = fresh_targets(moto, postgres, "resumed")
    run_dir = tmp_path / "runs" / "killed"
    settings = ("--set", "dynamodb.mode=batch", "--set", f"dynamodb.max_write_units={RATE}",
                "--set", f"load.chunks={CHUNKS}")  # fmt: skip
    proxy = ThrottlingProxy(moto.url, capacity=RATE, burst_s=1.0)
    with proxy.serve() as url:
        # GIVEN a run whose driver is killed once two of its eight DynamoDB chunks are written
        cmd, env = migrate_command(data_dir, tmp_path, targets, *LOOSE_GATE, *settings, run_id="killed", endpoint=url)
        job = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        deadline = time.monotonic() + 300
        while len(_markers(run_dir, "dynamodb")) < 2 and job.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert job.poll() is None, "the run ended before it could be killed"
        _kill_tree(job.pid)  # the driver, its JVM and its Python workers, mid-load
        job.wait()
        done_before = len(_markers(run_dir, "dynamodb"))
        done_units = sum(
            json.loads((run_dir / "chunks" / "dynamodb" / name).read_text())["write_units"]
            for name in _markers(run_dir, "dynamodb")
        )
        assert 2 <= done_before < CHUNKS
        aurora_done = len(_markers(run_dir, "aurora"))  # the loads run at once: Aurora's may have ended
        assert not (run_dir / "manifest.json").exists()
        before = comparable_items(targets)
        assert 0 < len(before) < len(reference_run.items)

        # a resumption must use the run's config (but for pace and retries): not the default gate here
        refused = run_migrate(data_dir, tmp_path, targets, "--resume", "killed", endpoint=url)
        assert refused.code == 2 and "--resume: config differs from the run's in " in refused.stderr
        assert "quality.max_quarantine_fraction" in refused.stderr.splitlines()[-1]

        # WHEN it is resumed
        units_before = sum(proxy.accepted.values())
        resumed = run_migrate(data_dir, tmp_path, targets, *LOOSE_GATE, *settings, "--resume", "killed", endpoint=url)
        units_on_resume = sum(proxy.accepted.values()) - units_before
    assert resumed.code == 0, resumed.stderr[-3000:]
    manifest = json.loads((run_dir / "manifest.json").read_text())

    # THEN the targets and the counts are those of the uninterrupted reference run of the same sample
    assert reference_run.result.manifest is not None
    assert manifest["counts"] == reference_run.result.manifest["counts"]
    assert comparable_items(targets) == comparable_items(reference_run.targets, reference_run.items)
    assert comparable_rows(targets) == reference_run.rows
    assert {it["run_id"]["S"] for it in targets.items()} == {"killed"}
    # AND the finished chunks were not written again: the endpoint took the units of the others only
    assert manifest["resumed"] is True and manifest["chunks"] == CHUNKS
    stats = manifest["write_stats"]["dynamodb"]
    assert stats["chunks_skipped"] == done_before
    # (plus the resumed attempt's own data key, registered with one PutItem)
    (key_item,) = [it for it in targets.key_items() if it["pk"]["S"] == f"PIIKEY#{manifest['pii']['key_ref']}"]
    assert units_on_resume == stats["write_units"] - done_units + put_units(key_item)
    assert 0 < done_units < stats["write_units"]
    assert manifest["write_stats"]["aurora"]["chunks_skipped"] == aurora_done
    assert len(_markers(run_dir, "dynamodb")) == len(_markers(run_dir, "aurora")) == CHUNKS

    # WHEN a finished run is resumed THEN nothing is written and it reports the same counts
    again = run_migrate(data_dir, tmp_path, targets, *LOOSE_GATE, *settings, "--resume", "killed")
    assert again.code == 0, again.stderr[-3000:]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["counts"] == reference_run.result.manifest["counts"]
    skipped = {t: manifest["write_stats"][t]["chunks_skipped"] for t in ("dynamodb", "aurora")}
    assert skipped == {"dynamodb": CHUNKS, "aurora": CHUNKS}
    assert comparable_rows(targets) == reference_run.rows


def test_resume_refuses_what_it_cannot_honour(small_sample, moto, postgres, tmp_path):
    data_dir, _ = small_sample
    targets = fresh_targets(moto, postgres, "resume_args")
    unknown = run_migrate(data_dir, tmp_path, targets, "--resume", "nope")
    assert unknown.code == 2 and unknown.stderr.strip().endswith(f"--resume: no run 'nope' to resume under {tmp_path}")
    mixed = run_migrate(data_dir, tmp_path, targets, "--resume", "nope", "--targets", "aurora", "--from", "2025-01-01")
    assert mixed.code == 2
    assert mixed.stderr.strip().endswith("--resume: takes the run's own selection and targets, not --from, --targets")
