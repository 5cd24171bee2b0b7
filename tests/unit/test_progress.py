from __future__ import annotations

from pipeline.progress import eta_text, progress_line, read_counters


def test_progress_line_rate_and_eta() -> None:
    line = progress_line("load_dynamodb", 250, 1000, 10.0)
    assert line == {"stage": "load_dynamodb", "done": 250, "total": 1000, "percent": 25.0, "per_second": 25.0,
                    "eta_s": 30, "unit": "items"}  # fmt: skip
    assert progress_line("x", 0, 10, 5.0)["eta_s"] is None  # nothing done yet: no estimate
    assert [eta_text(s) for s in (None, 42, 62, 3 * 3600 + 125)] == ["?", "42s", "1m02s", "3h02m"]


def test_counters_of_every_task_are_summed(tmp_path) -> None:
    from loaders.progress import ProgressFile

    folder = str(tmp_path / "_progress" / "dynamodb")
    for part, done in ((0, 100), (1, 250)):
        ProgressFile(folder, part, interval_s=60).update(force=True, done=done)
    ProgressFile(folder, 2, interval_s=60).update(done=999)  # not due yet: nothing written
    (tmp_path / "_progress" / "dynamodb" / "part-00003.json").write_text("{broken")  # a torn write is skipped
    assert read_counters(folder)["done"] == 350
