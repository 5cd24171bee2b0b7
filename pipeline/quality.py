"""The great-expectations gate: the one module that knows GX (1.x).

The suite is defined in conf/ (``quality.suite``: a YAML list of GX expectations whose ``"$name"`` values
are ``quality.rules.name``) and run on the clean set, which the caller has persisted. Cost: the whole suite
first runs with ``BOOLEAN_ONLY`` results (GX bundles the aggregate metrics of a domain into few Spark
jobs); only when something fails are the failed expectations run again with ``SUMMARY`` results, to say
how many rows and which values. Results JSON and the Data Docs site go to ``runs/<run_id>/quality/``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pyspark.sql import DataFrame

from pipeline.config import ConfigError
from storage.runfolder import join, local_path, put_tree

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")  # no phoning home from a batch job (or from CI)

log = logging.getLogger("migration")

SITE = "quality"
DETAIL_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": 10}


@dataclass
class SuiteOutcome:
    """What the gate reports: the verdict, one line per failed expectation, where the report is."""

    success: bool
    evaluated: int
    failed: list[dict[str, Any]] = field(default_factory=list)
    results_file: str | None = None
    data_docs: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "success": self.success,
            "expectations": self.evaluated,
            "failed": self.failed,
            "results_file": self.results_file,
            "data_docs": self.data_docs,
        }


def load_suite(path: Path, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The suite definition with every ``"$name"`` replaced by ``parameters[name]`` (exit 2 on a bad file)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"quality.suite: cannot read {path} ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"quality.suite: {path} is not valid YAML ({type(exc).__name__})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("expectations"), list) or not raw["expectations"]:
        raise ConfigError(f"quality.suite: {path} needs a non-empty 'expectations' list")

    def resolve(value: Any) -> Any:
        if isinstance(value, str) and value.startswith("$"):
            name = value[1:]
            if name not in parameters:
                raise ConfigError(f"quality.suite: {value} is not a key of quality.rules")
            found = parameters[name]
            return found.isoformat() if isinstance(found, date) else _plain(found)
        if isinstance(value, dict):
            return {k: resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [resolve(v) for v in value]
        return value

    suite = resolve(raw)
    for i, exp in enumerate(suite["expectations"]):
        if not isinstance(exp, dict) or not isinstance(exp.get("type"), str) or not isinstance(exp.get("kwargs"), dict):
            raise ConfigError(f"quality.suite: expectation {i + 1} needs 'type' and 'kwargs'")
    return suite


def _plain(value: Any) -> Any:
    if isinstance(value, (tuple, frozenset, set)):
        return sorted(value) if isinstance(value, (frozenset, set)) else list(value)
    return value


def run_suite(clean: DataFrame, suite_def: Mapping[str, Any], *, out_dir: str, run_id: str) -> SuiteOutcome:
    """Validate ``clean`` (persisted by the caller) and write results + Data Docs under ``out_dir``."""
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction

    local_root = local_path(out_dir)  # s3: built in a temporary folder, then copied up
    local_out = local_root if local_root is not None else tempfile.mkdtemp(prefix="quality-")
    docs_dir = Path(local_out) / "data_docs"
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)  # no tqdm bars in job logs
    context.add_data_docs_site(
        SITE,
        {
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,  # type: ignore[typeddict-unknown-key]  # GX accepts it; its TypedDict lags
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    batch_definition = (
        context.data_sources.add_spark("migration")
        .add_dataframe_asset("clean_reservations")
        .add_batch_definition_whole_dataframe("run")
    )
    name = str(suite_def.get("name", "clean_reservations"))
    suite = context.suites.add(gx.ExpectationSuite(name=name, expectations=expectations(suite_def)))

    first = _checkpoint(gx, context, batch_definition, suite, "gate", "BOOLEAN_ONLY", UpdateDataDocsAction)
    result = first.run(batch_parameters={"dataframe": clean}, run_id=_run_id(run_id, "gate"))
    results = _results(result)
    failed = [r for r in results if not r["success"]]
    outcome = SuiteOutcome(success=bool(result.success), evaluated=len(results))
    documents: dict[str, Any] = {"run_id": run_id, "success": outcome.success, "gate": results}
    if failed:
        detail_suite = context.suites.add(
            gx.ExpectationSuite(
                name=f"{suite.name}_failed",
                expectations=[{"type": r["type"], "kwargs": r["kwargs"]} for r in failed],
            )
        )
        second = _checkpoint(
            gx, context, batch_definition, detail_suite, "details", DETAIL_FORMAT, UpdateDataDocsAction
        )
        details = _results(second.run(batch_parameters={"dataframe": clean}, run_id=_run_id(run_id, "details")))
        documents["details"] = details
        outcome.failed = [_failure_line(d) for d in details]
    results_file = Path(local_out) / "results.json"
    results_file.parent.mkdir(parents=True, exist_ok=True)
    results_file.write_text(json.dumps(documents, indent=2, default=str) + "\n", encoding="utf-8")
    outcome.results_file = join(out_dir, "results.json")
    if (docs_dir / "index.html").is_file():
        outcome.data_docs = join(out_dir, "data_docs", "index.html")
    if local_root is None:
        put_tree(Path(local_out), out_dir)
        shutil.rmtree(local_out, ignore_errors=True)
    return outcome


def expectations(suite_def: Mapping[str, Any]) -> list[Any]:
    """GX expectation objects, one per entry; a bad entry is a config error (GX itself would log and drop it)."""
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    out = []
    for i, entry in enumerate(suite_def["expectations"]):
        try:
            out.append(ExpectationConfiguration(type=entry["type"], kwargs=dict(entry["kwargs"])).to_domain_obj())
        except Exception as exc:  # unknown type, missing or invalid kwargs
            message = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
            raise ConfigError(f"quality.suite: expectation {i + 1} ({entry['type']}): {message}") from None
    return out


def _checkpoint(gx: Any, context: Any, batch_definition: Any, suite: Any, name: str, result_format: Any,
                docs_action: Any) -> Any:  # fmt: skip
    validation = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{suite.name}_{name}", data=batch_definition, suite=suite)
    )
    return context.checkpoints.add(
        gx.Checkpoint(
            name=f"{suite.name}_{name}",
            validation_definitions=[validation],
            actions=[docs_action(name="data_docs", site_names=[SITE])],
            result_format=result_format,
        )
    )


def _run_id(run_id: str, name: str) -> Any:
    from great_expectations.core.run_identifier import RunIdentifier

    return RunIdentifier(run_name=f"{run_id}-{name}")


def _results(checkpoint_result: Any) -> list[dict[str, Any]]:
    out = []
    for validation in checkpoint_result.run_results.values():
        for r in validation.results:
            config = r.expectation_config
            out.append(
                {
                    "type": config.type,
                    "kwargs": {k: v for k, v in config.kwargs.items() if k != "batch_id"},
                    "success": bool(r.success),
                    "result": _jsonable(r.result or {}),
                    "exception": (r.exception_info or {}).get("exception_message")
                    if isinstance(r.exception_info, dict)
                    else None,
                }
            )
    return out


def _failure_line(detail: dict[str, Any]) -> dict[str, Any]:
    kwargs = detail["kwargs"]
    subject = kwargs.get("column") or ",".join(kwargs.get("column_list", []))
    result = detail["result"]
    return {
        "expectation": detail["type"],
        "column": subject,
        "unexpected_count": result.get("unexpected_count"),
        "unexpected_percent": result.get("unexpected_percent"),
        "examples": result.get("partial_unexpected_list", [])[:5],
        "error": detail.get("exception"),
    }


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))
