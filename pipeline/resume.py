"""The run record ``runs/<id>/run_options.json``: what a resumed attempt must repeat (selection, targets,
chunking, the Aurora path), and the options of ``--resume RUN_ID`` read back from it."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from loaders.chunks import Markers
from pipeline.config import Config, ConfigError
from pipeline.options import RunOptions
from storage.runfolder import RunFolder, read_text, remove_tree

RUN_RECORD = "run_options.json"

# What may change between a run and its resumption: pace, retries, the cluster. Anything else (inputs, rules,
# the gate, targets, modes) would make the resumed chunks a different run's.
RESUME_MAY_CHANGE = (
    "spark", "emr", "plan", "progress", "metrics", "dynamodb.endpoint_url", "dynamodb.max_write_units",
    "dynamodb.budget_fraction", "dynamodb.retry_deadline_s", "dynamodb.max_attempts", "dynamodb.conditional_threads",
    "aurora.max_attempts", "aurora.max_connections", "load.task_slots", "dynamodb.task_ceiling_units_per_s",
)  # fmt: skip


@dataclass(frozen=True)
class RunRecord:
    """The record as saved; ``aurora_path`` is set once the Aurora load has chosen its path."""

    payload: dict[str, Any]

    @property
    def chunks(self) -> int:
        return int(self.payload["chunks"])

    @property
    def started_at(self) -> datetime | None:
        """When the run's first attempt started (None for a record written before it was kept)."""
        text = self.payload.get("started_at")
        return datetime.fromisoformat(text) if text else None

    @property
    def attempt(self) -> str:
        return str(self.payload.get("attempt", ""))

    @property
    def dynamodb_empty(self) -> bool:
        """The DynamoDB table held no reservation when this run (its first attempt) started."""
        return bool(self.payload.get("dynamodb_empty_at_start"))

    @property
    def aurora_path(self) -> str | None:
        return self.payload.get("aurora_path")


def open_record(
    cfg: Config,
    opts: RunOptions,
    folder: RunFolder,
    redacted_config: dict[str, Any],
    *,
    slots: int,
    started_at: datetime,
) -> RunRecord:
    """A fresh run writes its record (and forgets the markers of any earlier run that used its id) under a
    new attempt id; a resumed one reads it back and refuses when the code or the inputs changed since."""
    if opts.resume:
        payload = read_run_record(folder)
        if payload is None:
            raise ConfigError(f"--resume: no run {opts.run_id!r} to resume under {cfg.output.root}")
        if payload.get("code_version") != opts.code_version:
            raise ConfigError(
                f"--resume: code version {opts.code_version} differs from the run's {payload.get('code_version')}:"
                " resume with the same artifact"
            )
        return RunRecord(payload)
    payload = {
        "run_id": opts.run_id,
        "attempt": secrets.token_hex(4),  # the Aurora load's part markers belong to this attempt only
        "selection": opts.selection(),
        "chunks": cfg.load.chunks or default_chunks(slots, opts.targets, cfg.aurora.max_connections),
        "code_version": opts.code_version,
        "started_at": started_at.isoformat(),  # a resumed attempt decides live hotels and plausible times by it
        "config": redacted_config,
    }
    if not opts.dry_run:
        Markers(folder.sub("chunks")).clear()  # every target's and pass's chunk markers
        remove_tree(folder.sub("held_back_registry"))  # an earlier run's of this id (pipeline.held_back)
        folder.write_json(RUN_RECORD, payload)
    return RunRecord(payload)


def default_chunks(slots: int, targets: tuple[str, ...], aurora_connections: int) -> int:
    """One DynamoDB writer task per chunk, all at once: every task slot, less those the Aurora load takes
    when both targets load at the same time (else DynamoDB's tasks would hold every slot until they end and
    Aurora would wait for them)."""
    if "aurora" in targets and "dynamodb" in targets and slots > aurora_connections:
        return slots - aurora_connections
    return slots


def with_inputs(folder: RunFolder, record: RunRecord, fingerprints: dict[str, Any], *, resume: bool) -> RunRecord:
    """A fresh run records what it read; a resumed one must read the same (ConfigError naming the input)."""
    if not fingerprints:
        return record
    if not resume:
        updated = RunRecord({**record.payload, "inputs": fingerprints})
        folder.write_json(RUN_RECORD, updated.payload)
        return updated
    before = record.payload.get("inputs", {})
    changed = sorted(name for name in set(before) | set(fingerprints) if before.get(name) != fingerprints.get(name))
    if changed:
        raise ConfigError(
            f"--resume: input {', '.join(changed)} changed since the run started (files, sizes or times):"
            " run again without --resume"
        )
    return record


def with_dynamodb_start(folder: RunFolder, record: RunRecord, empty: bool | None, *, resume: bool) -> RunRecord:
    """The record with what preflight found in the DynamoDB table (a fresh run's; a resumed run keeps the
    first attempt's: its own items are in the table by now)."""
    if resume or empty is None:
        return record
    updated = RunRecord({**record.payload, "dynamodb_empty_at_start": empty})
    folder.write_json(RUN_RECORD, updated.payload)
    return updated


def with_aurora_path(folder: RunFolder, record: RunRecord, path: str) -> RunRecord:
    """The record with the Aurora load's path, saved (a resumed initial load goes on as one)."""
    updated = RunRecord({**record.payload, "aurora_path": path})
    folder.write_json(RUN_RECORD, updated.payload)
    return updated


def read_run_record(folder: RunFolder) -> dict[str, Any] | None:
    text = read_text(folder.sub(RUN_RECORD))
    return json.loads(text) if text else None


def resume_options(cfg: Config, redacted_config: dict[str, Any], run_id: str, code_version: str) -> RunOptions:
    """The options of the run to resume, from its record (``--resume RUN_ID``); its config must be the same
    but for pace, retries and the cluster."""
    record = read_run_record(RunFolder(cfg.output.root, run_id))
    if record is None:
        raise ConfigError(f"--resume: no run {run_id!r} to resume under {cfg.output.root}")
    before, now = _flat(record["config"]), _flat(redacted_config)
    changed = [
        key for key in sorted(set(before) | set(now))
        if before.get(key) != now.get(key) and not any(key == k or key.startswith(f"{k}.") for k in RESUME_MAY_CHANGE)
    ]  # fmt: skip
    if changed:
        more = f" (+{len(changed) - 3} more)" if len(changed) > 3 else ""
        raise ConfigError(
            f"--resume: config differs from the run's in {', '.join(changed[:3])}{more}:"
            " pass the same --conf-file/--set"
        )
    if cfg.dynamodb.mode == "import" and "dynamodb" in record["selection"]["targets"]:
        raise ConfigError("--resume: dynamodb.mode=import stages and imports in one go; run it again instead")
    sel = record["selection"]
    return RunOptions(
        run_id=run_id,
        targets=tuple(sel["targets"]),
        date_from=date.fromisoformat(sel["from"]) if sel["from"] else None,
        date_to=date.fromisoformat(sel["to"]) if sel["to"] else None,
        properties=tuple(sel["properties"]),
        code_version=code_version,
        resume=True,
    )


def _flat(tree: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(tree, dict):
        out: dict[str, Any] = {}
        for key, value in tree.items():
            out.update(_flat(value, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): tree}
