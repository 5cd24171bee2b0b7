"""The great-expectations gate on hand-written clean rows: verdicts, details of failures only, the report."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from pipeline.config import CONF_DIR, ConfigError, RulesConfig
from pipeline.quality import load_suite, run_suite

SCHEMA = (
    "property_code string, confirmation_no string, status string, last_modified timestamp, source string,"
    " arrival_date date, nights int, adults int, children int, total_amount decimal(12,2), currency string,"
    " card_last4 string, email_hash string"
)


def _row(conf: str, **changes: object) -> tuple:
    row = {
        "property_code": "H00001", "confirmation_no": conf, "status": "CONFIRMED",
        "last_modified": dt.datetime(2025, 1, 2, 3, 4, 5), "source": "EDW", "arrival_date": dt.date(2025, 3, 1),
        "nights": 3, "adults": 2, "children": 0, "total_amount": Decimal("300.00"), "currency": "EUR",
        "card_last4": "1111", "email_hash": "ab" * 32,
    }  # fmt: skip
    row.update(changes)
    return tuple(row.values())


@pytest.fixture(scope="module")
def suite() -> dict:
    raw = yaml.safe_load((CONF_DIR / "base.yaml").read_text(encoding="utf-8"))
    rules = RulesConfig.model_validate(raw["quality"]["rules"])
    return load_suite(CONF_DIR / raw["quality"]["suite"], rules.model_dump())


def test_the_shipped_suite_resolves_its_parameters(suite) -> None:
    between = {e["kwargs"]["column"]: e["kwargs"] for e in suite["expectations"]
               if e["type"] == "expect_column_values_to_be_between"}  # fmt: skip
    assert between["nights"] == {"column": "nights", "min_value": 1, "max_value": 365}
    assert between["arrival_date"] == {"column": "arrival_date", "min_value": "2015-01-01", "max_value": "2035-12-31"}
    in_set = {e["kwargs"]["column"]: e["kwargs"]["value_set"] for e in suite["expectations"]
              if e["type"] == "expect_column_values_to_be_in_set"}  # fmt: skip
    assert in_set["status"] == ["CONFIRMED", "CANCELLED", "NO_SHOW", "IN_HOUSE", "CHECKED_OUT", "WAITLISTED"]
    assert "EUR" in in_set["currency"] and "EURO" not in in_set["currency"]


def test_clean_rows_pass_and_the_report_is_written(spark, suite, tmp_path: Path) -> None:
    df = spark.createDataFrame([_row("1"), _row("2", card_last4=None, adults=None)], SCHEMA)
    outcome = run_suite(df, suite, out_dir=str(tmp_path / "quality"), run_id="ok")
    assert (outcome.success, outcome.evaluated, outcome.failed) == (True, len(suite["expectations"]), [])
    report = json.loads((tmp_path / "quality" / "results.json").read_text())
    assert report["success"] is True and "details" not in report  # no detail pass when nothing failed
    assert outcome.data_docs == str(tmp_path / "quality" / "data_docs" / "index.html")
    assert Path(outcome.data_docs).is_file()


def test_failures_are_named_with_counts_and_examples(spark, suite, tmp_path: Path) -> None:
    rows = [
        _row("1"),
        _row("1"),  # the key twice
        _row("3", status="LIVE", currency="EURO"),
        _row("4", nights=400, email_hash="not-a-hash"),
        _row("5", arrival_date=dt.date(2014, 12, 31), property_code="h-1"),
    ]
    outcome = run_suite(spark.createDataFrame(rows, SCHEMA), suite, out_dir=str(tmp_path / "q"), run_id="bad")
    assert outcome.success is False
    failed = {(f["expectation"], f["column"]): (f["unexpected_count"], f["examples"]) for f in outcome.failed}
    assert failed == {
        ("expect_compound_columns_to_be_unique", "property_code,confirmation_no"): (
            2, [{"property_code": "H00001", "confirmation_no": "1"}] * 2),
        ("expect_column_values_to_match_regex", "property_code"): (1, ["h-1"]),
        ("expect_column_values_to_be_in_set", "status"): (1, ["LIVE"]),
        ("expect_column_values_to_be_in_set", "currency"): (1, ["EURO"]),
        ("expect_column_values_to_match_regex", "currency"): (1, ["EURO"]),
        ("expect_column_values_to_be_between", "arrival_date"): (1, ["2014-12-31"]),
        ("expect_column_values_to_be_between", "nights"): (1, [400]),
        ("expect_column_values_to_match_regex", "email_hash"): (1, ["not-a-hash"]),
    }  # fmt: skip
    report = json.loads((tmp_path / "q" / "results.json").read_text())
    assert len(report["details"]) == len(failed)  # details fetched for the failed expectations only


def test_a_suite_that_does_not_resolve_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "suite.yaml"
    path.write_text("expectations:\n  - type: expect_column_values_to_be_in_set\n"
                    "    kwargs: {column: status, value_set: $no_such_rule}\n")  # fmt: skip
    with pytest.raises(ConfigError, match=r"^quality.suite: \$no_such_rule is not a key of quality.rules$"):
        load_suite(path, {"statuses": ["CONFIRMED"]})
    with pytest.raises(ConfigError, match=r"^quality.suite: cannot read"):
        load_suite(tmp_path / "missing.yaml", {})
    path.write_text("expectations: []\n")
    with pytest.raises(ConfigError, match="non-empty 'expectations' list"):
        load_suite(path, {})


def test_an_unknown_expectation_is_a_config_error(spark, tmp_path: Path) -> None:
    df = spark.createDataFrame([_row("1")], SCHEMA)
    bogus = {"name": "x", "expectations": [{"type": "expect_the_unexpected", "kwargs": {"column": "status"}}]}
    with pytest.raises(ConfigError, match=r"^quality.suite: "):
        run_suite(df, bogus, out_dir=str(tmp_path / "q"), run_id="bogus")
