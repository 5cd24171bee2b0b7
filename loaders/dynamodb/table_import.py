"""``dynamodb.mode=import``: items staged as gzip DynamoDB JSON on S3, then ImportTable into a new table."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator, Mapping
from functools import partial
from typing import Any

import pyarrow as pa
from pyspark.sql import DataFrame

from loaders.dynamodb.items import build_item, register_data_key, serialize, to_json
from loaders.dynamodb.settings import DynamoSettings, control_client, table_definition
from loaders.outcomes import OUTCOME_SCHEMA, WriteStats, outcome_batch, save_and_summarize
from loaders.progress import task_part
from storage.runfolder import write_text

log = logging.getLogger("migration")


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> (bucket, "some/prefix/"); ValueError for anything else."""
    if not uri.startswith("s3://") or not uri[5:].split("/", 1)[0]:
        raise ValueError(f"not an s3:// URI: {uri!r}")
    bucket, _, prefix = uri[5:].partition("/")
    prefix = prefix.strip("/")
    return bucket, f"{prefix}/" if prefix else ""


def _s3_client(region: str) -> Any:
    import boto3

    return boto3.client("s3", region_name=region)  # AWS_ENDPOINT_URL_S3 points it elsewhere (moto locally)


def clear_prefix(region: str, bucket: str, prefix: str) -> int:
    """Delete what an earlier attempt of this run staged under ``prefix``; returns how many objects."""
    s3 = _s3_client(region)
    deleted = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
            deleted += len(keys)
    return deleted


def stage_batches(
    batches: Iterator[pa.RecordBatch], *, settings: DynamoSettings, bucket: str, prefix: str
) -> Iterator[pa.RecordBatch]:
    """mapInArrow body of ``import`` mode: this task's items as one gzip DynamoDB-JSON file on S3.

    The object name is the partition number, so a retried task replaces its file instead of adding one.
    ``written`` counts items staged; the import decides what lands.
    """
    import gzip
    import tempfile

    started = time.monotonic()
    part = task_part()
    staged = 0
    failures: list[tuple[str, str, str]] = []
    with tempfile.NamedTemporaryFile(suffix=".json.gz") as tmp:
        with gzip.open(tmp.name, "wt", encoding="utf-8", compresslevel=6) as out:
            for batch in batches:
                for row in batch.to_pylist():
                    out.write('{"Item": ' + to_json(serialize(build_item(row, settings.run_id))) + "}\n")
                    staged += 1
        if staged:
            try:
                _s3_client(settings.region).upload_file(tmp.name, bucket, f"{prefix}part-{part:05d}.json.gz")
            except Exception as exc:  # every item of the file is then unwritten, and says why
                error = f"S3Upload{type(exc).__name__}"
                with gzip.open(tmp.name, "rt", encoding="utf-8") as back:
                    for line in back:
                        item = json.loads(line)["Item"]
                        failures.append((item["pk"]["S"], json.dumps(item, sort_keys=True), error))
                staged = 0
    summary = {
        "written": staged,
        "kept_newer": 0,
        "failed": len(failures),
        "write_units": 0.0,
        "retries": 0,
        "throttles": 0,
        "seconds": time.monotonic() - started,
    }
    yield outcome_batch(summary, failures)


def stage_for_import(
    df: DataFrame, *, settings: DynamoSettings, bucket: str, prefix: str, results_path: str, failed_path: str
) -> WriteStats:
    """Write every item of ``df`` to ``s3://bucket/prefix`` (gzip DynamoDB JSON); returns what was staged."""
    body = partial(stage_batches, settings=settings, bucket=bucket, prefix=prefix)
    return save_and_summarize(df.mapInArrow(body, OUTCOME_SCHEMA), results_path=results_path, failed_path=failed_path)


def import_table(
    settings: DynamoSettings, *, bucket: str, prefix: str, poll_seconds: float, timeout_s: float
) -> dict[str, Any]:
    """ImportTable from the staged files into a new table (keys and both GSIs), waited for; the final
    ImportTableDescription's counts and status."""
    client = control_client(settings)
    creation = {k: v for k, v in table_definition(settings.table).items()}
    started = time.monotonic()
    desc = client.import_table(
        ClientToken=str(uuid.uuid4()),  # one per import: a call botocore retries joins the import it started
        S3BucketSource={"S3Bucket": bucket, "S3KeyPrefix": prefix},
        InputFormat="DYNAMODB_JSON",
        InputCompressionType="GZIP",
        TableCreationParameters=creation,
    )["ImportTableDescription"]
    while desc.get("ImportStatus") in ("IN_PROGRESS", "CANCELLING"):
        if time.monotonic() - started > timeout_s:
            break
        time.sleep(poll_seconds)
        desc = client.describe_import(ImportArn=desc["ImportArn"])["ImportTableDescription"]
    return {
        "import_arn": desc.get("ImportArn"),
        "status": desc.get("ImportStatus"),
        "processed": int(desc.get("ProcessedItemCount", 0) or 0),
        "imported": int(desc.get("ImportedItemCount", 0) or 0),
        "errors": int(desc.get("ErrorCount", 0) or 0),
        "failure": desc.get("FailureCode"),
        "seconds": round(time.monotonic() - started, 1),
    }


def check_staging(settings: DynamoSettings, s3_uri: str | None, *, table_exists: bool) -> None:
    """Preflight of import mode: ImportTable creates its table, so it must not exist yet, and the staging
    bucket must be reachable. ValueError naming the config key otherwise."""
    from botocore.exceptions import ClientError

    if table_exists:
        raise ValueError(f"dynamodb.mode: import loads a new table, and {settings.table!r} exists (use batch or auto)")
    if not s3_uri:
        raise ValueError("dynamodb.import_s3_uri: required when dynamodb.mode is import")
    bucket, _ = parse_s3_uri(s3_uri)
    try:
        _s3_client(settings.region).head_bucket(Bucket=bucket)
    except ClientError:
        raise ValueError(f"dynamodb.import_s3_uri: bucket {bucket!r} is not reachable") from None


def import_into_table(
    df: DataFrame,
    *,
    settings: DynamoSettings,
    key: Mapping[str, Any] | None,
    s3_uri: str,
    poll_seconds: float,
    timeout_s: float,
    results_path: str,
    failed_path: str,
) -> tuple[WriteStats, dict[str, Any]]:
    """Stage gzip DynamoDB JSON under ``<s3_uri>/<run_id>/``, then ImportTable into the new table and
    register the data key (``key``; None for a development key) once the table exists. An incomplete staging
    is not imported: a re-run stages again and imports everything."""
    bucket, base = parse_s3_uri(s3_uri)
    prefix = f"{base}{settings.run_id}/"
    clear_prefix(settings.region, bucket, prefix)
    staged = stage_for_import(
        df, settings=settings, bucket=bucket, prefix=prefix, results_path=results_path, failed_path=failed_path
    )
    details: dict[str, Any] = {"mode": "import", "s3_prefix": f"s3://{bucket}/{prefix}", "staged": staged.written}
    report = f"{failed_path.rstrip('/')}/import.json"
    if staged.failed:
        log.error("dynamodb import: %d items could not be staged; nothing imported", staged.failed)
        write_text(report, json.dumps({**details, "not_imported": staged.written}, indent=2) + "\n")
        return WriteStats(0, 0, staged.written + staged.failed, 0.0, 0, 0, staged.task_seconds), details
    log.info("dynamodb import: %d items staged under s3://%s/%s; importing", staged.written, bucket, prefix)
    result = import_table(settings, bucket=bucket, prefix=prefix, poll_seconds=poll_seconds, timeout_s=timeout_s)
    details["import"] = result
    if result["status"] == "COMPLETED" and key is not None:  # the table exists only now
        register_data_key(settings, key)
    imported = result["imported"] if result["status"] == "COMPLETED" else 0
    failed = staged.written - imported
    if failed:
        # Which items the import rejected is only in its CloudWatch log; the staged files stay for a re-run.
        write_text(report, json.dumps({**details, "not_imported": failed}, indent=2) + "\n")
        log.error("dynamodb import %s: %d of %d items not imported", result["status"], failed, staged.written)
    return WriteStats(imported, 0, failed, 0.0, 0, 0, staged.task_seconds), details
