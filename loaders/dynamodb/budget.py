"""The job's DynamoDB write budget, resolved from the table when the config does not set it."""

from __future__ import annotations

from typing import Any


def resolve_budget(client: Any, table: str, *, fraction: float) -> tuple[float, str]:
    """The write budget (units/s, table + GSIs as metered) the table allows, times ``fraction``, and why.

    Provisioned: the smallest write capacity among the table and its GSIs (each index is throttled on its
    own) times the number of copies an item makes. On demand: the table's maximum write request units if
    one is set, else the account's per-table limit (DescribeLimits), times the copies.
    """
    desc = client.describe_table(TableName=table)["Table"]
    gsis = desc.get("GlobalSecondaryIndexes", [])
    copies = 1 + len(gsis)
    mode = desc.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")
    if mode == "PROVISIONED":
        per_index = min(
            [int(desc["ProvisionedThroughput"]["WriteCapacityUnits"])]
            + [int(g["ProvisionedThroughput"]["WriteCapacityUnits"]) for g in gsis]
        )
        why = f"provisioned {per_index} WCU (smallest of the table and its {len(gsis)} GSIs)"
    else:
        limit = int(desc.get("OnDemandThroughput", {}).get("MaxWriteRequestUnits", -1) or -1)
        if limit > 0:
            per_index, why = limit, f"on-demand table maximum {limit} WRU/s"
        else:
            per_index = int(client.describe_limits()["TableMaxWriteCapacityUnits"])
            why = f"on-demand account limit {per_index} WRU/s per table"
    units = per_index * copies * fraction
    return units, f"{why} x {copies} copies (table + GSIs) x dynamodb.budget_fraction {fraction:g}"
