"""Hand-written EDW rows for transform tests (all text, as the reader delivers them)."""

from __future__ import annotations

from typing import Any

from pipeline.config import CONF_DIR, RulesConfig
from transforms.parameters import RuleParameters
from transforms.schema import PROPERTY_COLUMNS, READ_RESERVATION_COLUMNS, ROOM_STAY_COLUMNS


def rules_from_conf() -> RuleParameters:
    """The rule parameters of conf/base.yaml (the tests use the shipped values, not copies of them)."""
    import yaml

    raw = yaml.safe_load((CONF_DIR / "base.yaml").read_text(encoding="utf-8"))
    return RulesConfig.model_validate(raw["quality"]["rules"]).parameters()


RULES = rules_from_conf()

GOOD = {
    "CONF_NO": "1001", "PROP_CD": "NYC01", "RES_STATUS": "RES", "CREATE_TS": "2025-01-10 09:00:00",
    "LAST_MOD_TS": "2025-01-10 09:00:00", "EDW_SEQ": "10", "ARR_DT": "20250301", "DEP_DT": "2025-03-04",
    "ADULTS": "2", "CHILDREN": "0", "GUEST_FIRST_NM": "Ana", "GUEST_LAST_NM": "Silva",
    "GUEST_EMAIL": " Ana.Silva@Example.com ", "GUEST_PHONE": "+1 555 0100", "GUEST_COUNTRY": "prt",
    "CARD_TYPE": "VI", "CARD_LAST4": "1111", "TOTAL_AMT": "1,234.50", "CURRENCY_CD": "usd", "CHANNEL_CD": "ota",
    "_input_file": "file:/x/part-0.csv",
}  # fmt: skip
PROPERTIES = [
    ("NYC01", "H00001", "Hotel NYC", "US", "America/New_York", ""),
    ("LIS01", "H00002", "Hotel Lisbon", "PT", "Europe/Lisbon", "2025-06-01 00:00:00"),
]


def reservations_df(spark: Any, *rows: dict[str, str | None]) -> Any:
    cols = [*READ_RESERVATION_COLUMNS, "_input_file"]
    data = [tuple({**GOOD, **r}.get(c) for c in cols) for r in rows]
    return spark.createDataFrame(data, ", ".join(f"{c} string" for c in cols))


def properties_df(spark: Any) -> Any:
    return spark.createDataFrame(PROPERTIES, ", ".join(f"{c} string" for c in PROPERTY_COLUMNS))


def room_stays_df(spark: Any, *rows: dict[str, str | None]) -> Any:
    default = {
        "CONF_NO": "1001",
        "PROP_CD": "NYC01",
        "EDW_SEQ": "10",
        "LINE_NO": "1",
        "ROOM_TYPE_CD": "kng",
        "RATE_PLAN_CD": "BAR",
        "STAY_START_DT": "20250301",
        "STAY_END_DT": "20250304",
        "NIGHTLY_RATE": "411.50",
        "CURRENCY_CD": "USD",
    }
    data = [tuple({**default, **r}.get(c) for c in ROOM_STAY_COLUMNS) for r in rows]
    schema = ", ".join(f"{c} string" for c in ROOM_STAY_COLUMNS)
    return spark.createDataFrame(data, schema)
