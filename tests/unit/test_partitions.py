"""Date-partition pruning: which folders a window reads, on real folders listed through Hadoop's FileSystem."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from readers.edw import InputError, read_reservations
from readers.partitions import folder_dates, select_partitions
from tests.unit.edw_rows import GOOD
from transforms.schema import RESERVATION_COLUMNS

WHAT = "input.reservations"
HEADER = "|".join(RESERVATION_COLUMNS)


def edw_line(**values: str) -> str:
    row = {**GOOD, "CARD_NO": "XXXXXXXXXXXX1111", **values}
    return "|".join(str(row[c]) for c in RESERVATION_COLUMNS)


def _layout(root: Path, folders: list[str], *, extra: tuple[str, ...] = ()) -> None:
    for i, name in enumerate(folders):
        (root / name).mkdir(parents=True)
        (root / name / "part-00000.csv").write_text(
            HEADER + "\n" + edw_line(CONF_NO=f"C{i:04d}") + "\n", encoding="utf-8"
        )
    for name in extra:
        (root / name).write_text("", encoding="utf-8")


def _names(paths: tuple[str, ...]) -> list[str]:
    return [p.rstrip("/").rsplit("/", 1)[-1] for p in paths]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-03-01", (date(2025, 3, 1), date(2025, 3, 1))),
        ("20250301", (date(2025, 3, 1), date(2025, 3, 1))),
        ("2024-02", (date(2024, 2, 1), date(2024, 2, 29))),
        ("202502", (date(2025, 2, 1), date(2025, 2, 28))),
        ("2025-02-30", None),
        ("2025-13", None),
        ("__HIVE_DEFAULT_PARTITION__", None),
        ("2025-3-1", None),
    ],
)
def test_folder_dates(value, expected):
    assert folder_dates(value) == expected


def test_a_window_reads_the_folders_within_its_slack_and_the_undated_ones(spark, tmp_path):
    days = [f"LAST_MOD_DT=2025-03-{d:02d}" for d in range(1, 31)]
    _layout(tmp_path, [*days, "LAST_MOD_DT=__HIVE_DEFAULT_PARTITION__"], extra=("_SUCCESS", ".part.crc"))
    chosen = select_partitions(
        spark,
        str(tmp_path),
        column="LAST_MOD_DT",
        slack_days=1,
        date_from=date(2025, 3, 10),
        date_to=date(2025, 3, 12),
        what=WHAT,
    )
    # 10..12 plus a day either side (property-local dates vs UTC), and the folder without a date
    assert _names(chosen.paths) == [
        "LAST_MOD_DT=2025-03-09",
        "LAST_MOD_DT=2025-03-10",
        "LAST_MOD_DT=2025-03-11",
        "LAST_MOD_DT=2025-03-12",
        "LAST_MOD_DT=2025-03-13",
        "LAST_MOD_DT=__HIVE_DEFAULT_PARTITION__",
    ]
    assert chosen.summary == {
        "column": "LAST_MOD_DT",
        "dates": ["2025-03-09", "2025-03-13"],
        "folders_read": 6,
        "folders_skipped": 25,
        "folders_undated": 1,
    }
    assert not chosen.empty
    # Spark reads exactly those files, and the partition column does not disturb the canonical columns
    df = read_reservations(spark, chosen.paths, base_path=chosen.base_path, fmt="csv")
    assert sorted(r["CONF_NO"] for r in df.collect()) == ["C0008", "C0009", "C0010", "C0011", "C0012", "C0030"]
    assert len(df.inputFiles()) == 6


def test_open_ended_windows_and_month_folders(spark, tmp_path):
    _layout(tmp_path, ["m=2025-01", "m=2025-02", "m=2025-03", "m=2025-04"])
    after = select_partitions(
        spark, str(tmp_path), column="m", slack_days=0, date_from=date(2025, 2, 28), date_to=None, what=WHAT
    )
    assert _names(after.paths) == ["m=2025-02", "m=2025-03", "m=2025-04"]
    assert after.summary is not None and after.summary["dates"] == ["2025-02-28", None]
    before = select_partitions(
        spark, str(tmp_path), column="m", slack_days=3, date_from=None, date_to=date(2025, 1, 29), what=WHAT
    )
    assert _names(before.paths) == ["m=2025-01", "m=2025-02"]  # Feb 1 is within 3 days of Jan 29


def test_no_window_or_no_layout_reads_the_whole_source(spark, tmp_path):
    _layout(tmp_path, ["d=2025-01-01"])
    for column, window in (("d", (None, None)), (None, (date(2025, 1, 1), None))):
        chosen = select_partitions(
            spark, str(tmp_path), column=column, slack_days=1, date_from=window[0], date_to=window[1], what=WHAT
        )
        assert chosen.paths == (str(tmp_path),) and chosen.summary is None and chosen.base_path is None


def test_a_window_with_no_folder_reads_nothing(spark, tmp_path):
    _layout(tmp_path, ["d=2025-01-01", "d=2025-01-02"])
    chosen = select_partitions(
        spark, str(tmp_path), column="d", slack_days=1, date_from=date(2026, 1, 1), date_to=None, what=WHAT
    )
    assert chosen.empty
    assert chosen.summary is not None and chosen.summary["folders_skipped"] == 2


@pytest.mark.parametrize(
    ("folders", "extra", "message"),
    [
        (["d=2025-01-01"], ("part-00000.csv",), "input.reservations.date_partition: 'part-00000.csv' under"),
        (["day=2025-01-01"], (), "input.reservations.date_partition: 'day=2025-01-01' under"),
        ([], ("_SUCCESS",), "input.reservations.date_partition: no d=<date> folders under"),
    ],
)
def test_a_layout_that_is_not_the_configured_one_is_named(spark, tmp_path, folders, extra, message):
    _layout(tmp_path, folders, extra=extra)
    with pytest.raises(InputError, match=message.replace("(", r"\(")):
        select_partitions(
            spark, str(tmp_path), column="d", slack_days=1, date_from=date(2025, 1, 1), date_to=None, what=WHAT
        )


def test_a_missing_source_is_named(spark, tmp_path):
    with pytest.raises(InputError, match=r"input.reservations.path: .*/nope does not exist"):
        select_partitions(
            spark, str(tmp_path / "nope"), column="d", slack_days=1, date_from=date(2025, 1, 1), date_to=None,
            what=WHAT,
        )  # fmt: skip


def test_an_archive_in_date_folders_reads_only_the_chosen_folders_documents(spark, tmp_path):
    from readers.htng import read_htng
    from tests.unit.test_htng_parser import notif

    for day in ("2025-03-01", "2025-03-02", "2025-03-09"):
        folder = tmp_path / f"archived={day}" / "nested"
        folder.mkdir(parents=True)
        (folder / "msg.xml").write_text(notif(), encoding="utf-8")
    chosen = select_partitions(
        spark, str(tmp_path), column="archived", slack_days=0, date_from=date(2025, 3, 2), date_to=None, what=WHAT
    )
    df = read_htng(spark, chosen.paths, max_document_bytes=1 << 20, confirmation_types=("10",))
    files = sorted(r["input_file"].split("archived=")[1] for r in df.collect())
    assert files == ["2025-03-02/nested/msg.xml", "2025-03-09/nested/msg.xml"]
