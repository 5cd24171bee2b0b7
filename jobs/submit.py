"""python -m jobs.submit --env ENV (--cluster-id ID | --create-cluster | --serverless APP) [job options] [--dry-run]

Package the job (``jobs.package``), upload the artifact, conf and bootstrap to
``s3://<emr.artifact_bucket>/<emr.artifact_prefix>/<version>/`` (and, for a transient cluster, the locked
dependency wheels to ``…/python-deps/<lock key>.tar`` unless already there), render ``emr_steps.json`` (and, for a
transient cluster, ``conf/emr/cluster.json``), add the steps or create the cluster, and follow the steps to
the end; or run the same steps as EMR Serverless job runs, one after the other (:mod:`jobs.serverless`).
While the migrate step runs it prints the driver's progress lines (read from the run folder); at the
end the run's summary and reconcile verdict. Exit: the run's own code (0 done, 3 gate failed, 4 load
incomplete, 5 reconcile mismatch, 2 bad arguments/config), 1 when a step died without the run's manifest;
when the run folder cannot be read from here, 0 when every step completed, else 1.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from jobs import package, serverless
from jobs.cli import OneLineParser, base_parser, parse_day, parse_properties, parse_targets
from pipeline.config import ConfigError, EmrConfig, interpolate, load_raw
from pipeline.summary import render_summary
from storage.runfolder import list_names, new_run_id, put_file, read_text

ROOT = Path(__file__).resolve().parent.parent
STEPS_FILE = ROOT / "emr_steps.json"
CLUSTER_FILE = ROOT / "conf" / "emr" / "cluster.json"
TERMINAL = frozenset({"COMPLETED", "CANCELLED", "FAILED", "INTERRUPTED"})
_PLACEHOLDER = re.compile(r"\$\{([A-Z_]+)\}")


def render(template: Any, values: Mapping[str, Any]) -> Any:
    """Replace ``${NAME}``: a string that is exactly one placeholder takes the value as is (a list, a number);
    in a list, a list value is spliced in; inside longer strings values are text. Unknown names fail."""

    def value(name: str) -> Any:
        if name not in values:
            raise ConfigError(f"template: unknown placeholder ${{{name}}}")
        return values[name]

    if isinstance(template, str):
        whole = _PLACEHOLDER.fullmatch(template)
        if whole:
            return value(whole.group(1))
        return _PLACEHOLDER.sub(lambda m: str(value(m.group(1))), template)
    if isinstance(template, list):
        out: list[Any] = []
        for item in template:
            rendered = render(item, values)
            if isinstance(item, str) and _PLACEHOLDER.fullmatch(item) and isinstance(rendered, list):
                out.extend(rendered)
            else:
                out.append(rendered)
        return out
    if isinstance(template, dict):
        rendered_dict = {k: render(v, values) for k, v in template.items()}
        return {k: v for k, v in rendered_dict.items() if v != []}  # an empty list means "not set"
    return template


def api_step(cli_step: Mapping[str, Any]) -> dict[str, Any]:
    """The AWS CLI's add-steps shape (Type/Jar/Args, what emr_steps.json holds) -> the API's StepConfig."""
    if cli_step.get("Type", "CUSTOM_JAR") != "CUSTOM_JAR":
        raise ConfigError(f"emr_steps.json: step {cli_step.get('Name')!r}: only CUSTOM_JAR steps are supported")
    return {
        "Name": cli_step["Name"],
        "ActionOnFailure": cli_step["ActionOnFailure"],
        "HadoopJarStep": {"Jar": cli_step["Jar"], "Args": list(cli_step["Args"])},
    }


def job_args(args: Any) -> list[str]:
    out: list[str] = []
    if args.date_from:
        out += ["--from", args.date_from.isoformat()]
    if args.date_to:
        out += ["--to", args.date_to.isoformat()]
    if args.properties:
        out += ["--properties", ",".join(args.properties)]
    if args.targets:
        out += ["--targets", ",".join(args.targets)]
    for item in args.job_set:
        out += ["--set", item]
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        merged = load_raw(args.env, conf_file=args.conf_file, overrides=args.overrides)
        # only what submitting needs: the emr section and where the run's manifest will be
        raw = {
            "emr": interpolate(merged.get("emr") or {}, os.environ, path="emr"),
            "output": {"root": _output_root(merged)},
            "plan": {"instances": (merged.get("plan") or {}).get("instances") or {}},
        }
        args.date_from = parse_day(args.from_text, "--from")
        args.date_to = parse_day(args.to_text, "--to")
        emr = EmrConfig.model_validate(raw.get("emr") or {})
        args.properties = parse_properties(args.properties_text)
        args.targets = parse_targets(args.targets_text) if args.targets_text else ()
        if not args.dry_run and not (args.cluster_id or args.create_cluster or args.serverless):
            raise ConfigError("--cluster-id, --create-cluster or --serverless: one is needed (or --dry-run)")
        if args.serverless and args.no_wait:
            raise ConfigError("--no-wait: job runs start one after the other, so --serverless waits for them")
        if args.serverless and not emr.serverless_execution_role:
            raise ConfigError("emr.serverless_execution_role: not set (the job runs' IAM role ARN)")
        run_id = args.run_id or new_run_id()
        with tempfile.TemporaryDirectory(prefix="migration-package-") as tmp:
            # the dependency wheels only where a bootstrap action installs them: a running cluster's nodes
            # already hold them (a --cluster-id cluster never runs a bootstrap action)
            artifact = package.build(Path(tmp), deps=args.create_cluster and not args.dry_run)
            root = emr.artifact_root(artifact.version)
            deps_uri = emr.python_deps_uri(package.deps_key())
            values = _values(args, emr, artifact, root, run_id, raw["plan"]["instances"], deps_uri)
            steps = _steps(args.steps, values, artifact)
            request = _cluster_request(values, steps) if args.create_cluster else None
            job_runs = _job_runs(args, emr, steps, run_id, values) if args.serverless else None
            if args.dry_run:
                print(json.dumps({"version": artifact.version, "artifact_root": root, "run_id": run_id,
                                  "steps": steps, "cluster": request, "job_runs": job_runs}, indent=2))  # fmt: skip
                return 0
            _upload(artifact, root, deps_uri)
    except ConfigError as exc:
        parser.error(str(exc))
    except RuntimeError as exc:  # the wheels for the cluster's platform could not be downloaded
        print(f"submit: {exc}", file=sys.stderr)
        return 1
    if job_runs is not None:
        return _serverless_and_follow(emr, job_runs, run_id, raw)
    if args.cluster_id:
        print(f"submit: cluster {args.cluster_id} runs no bootstrap action now: its nodes must already hold "
              f"requirements/cluster.lock ({deps_uri}; install_python_deps.sh installs it)")  # fmt: skip
    return _submit_and_follow(args, emr, steps, request, run_id, raw)


def _parser() -> OneLineParser:
    parser = base_parser("submit", __doc__.splitlines()[0] if __doc__ else "Submit the migration to EMR.")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--cluster-id", help="add the steps to this running cluster")
    where.add_argument("--create-cluster", action="store_true", help="create a transient cluster running them")
    where.add_argument("--serverless", metavar="APPLICATION_ID", help="run them as EMR Serverless job runs")
    parser.add_argument("--from", dest="from_text", metavar="YYYY-MM-DD")
    parser.add_argument("--to", dest="to_text", metavar="YYYY-MM-DD")
    parser.add_argument("--properties", dest="properties_text")
    parser.add_argument("--targets", dest="targets_text")
    parser.add_argument("--run-id")
    parser.add_argument("--job-set", action="append", default=[], metavar="KEY=VALUE",
                        help="passed to the job as --set (repeatable)")  # fmt: skip
    parser.add_argument("--steps", default="migrate,reconcile", help="which steps of emr_steps.json to add")
    parser.add_argument("--dry-run", action="store_true", help="print the rendered steps; upload nothing")
    parser.add_argument("--no-wait", action="store_true", help="return once the steps are added")
    return parser


def _output_root(merged: Mapping[str, Any]) -> str:
    root = (merged.get("output") or {}).get("root") or ""
    try:
        return str(interpolate(root, os.environ, path="output.root"))
    except ConfigError:  # e.g. ${MIGRATION_BUCKET} only known on the cluster: show it as written
        return str(root)


def _values(
    args: Any,
    emr: EmrConfig,
    artifact: package.Artifact,
    root: str,
    run_id: str,
    instances: Mapping[str, Any],
    deps_uri: str,
) -> dict[str, Any]:
    # dynamic allocation's ceiling: what the core fleet holds, so that the job sizes its writers by the
    # cluster it will have, not by the cores registered when the step starts (pipeline/slots.py)
    max_executors = emr.max_executors({k: (int(v[0]), float(v[1])) for k, v in instances.items()})
    if max_executors is None and args.create_cluster:
        raise ConfigError(f"emr.core_instance_types: {emr.core_instance_types[0]!r} is not in plan.instances")
    return {
        "EXECUTOR_CORES": str(emr.executor_cores),
        "MAX_EXECUTORS": str(max_executors or ""),
        "ENV": args.env,
        "RUN_ID": run_id,
        "VERSION": artifact.version,
        "ARTIFACT_ROOT": root,
        "PYTHON_DEPS": deps_uri,
        "JOB_ARGS": job_args(args),
        # a shared cluster is someone's: never terminate it; a transient one is ours to end
        "ACTION_ON_FAILURE": "TERMINATE_CLUSTER" if args.create_cluster else "CANCEL_AND_WAIT",
        "RELEASE_LABEL": emr.release_label,
        "SECURITY_CONFIGURATION": emr.security_configuration or [],  # (an empty list: the key is left out)
        "LOG_URI": emr.logs_uri(),
        "SERVICE_ROLE": emr.service_role,
        "JOB_FLOW_ROLE": emr.job_flow_role,
        "IDLE_TIMEOUT_S": emr.idle_timeout_s,
        "SUBNET_IDS": list(emr.subnet_ids),
        "PRIMARY_INSTANCE_TYPE": emr.primary_instance_type,
        "CORE_CAPACITY": emr.core_capacity,
        "CORE_INSTANCE_TYPE_CONFIGS": [{"InstanceType": t} for t in emr.core_instance_types],
    }


def _steps(wanted: str, values: Mapping[str, Any], artifact: package.Artifact) -> list[dict[str, Any]]:
    names = [n.strip() for n in wanted.split(",") if n.strip()]
    templates = json.loads(STEPS_FILE.read_text(encoding="utf-8"))
    out = []
    for template in templates:
        kind = template["Name"].split()[0]
        if kind not in names:
            continue
        if f"{kind}.py" not in artifact.files:  # e.g. reconcile before jobs/reconcile.py exists
            print(f"submit: step {kind!r} skipped: jobs/{kind}.py is not in this version", file=sys.stderr)
            continue
        out.append(api_step(render(template, values)))
    if not out:
        raise ConfigError(f"--steps: nothing to run ({wanted!r})")
    return out


def _job_runs(args: Any, emr: EmrConfig, steps: list[dict[str, Any]], run_id: str,
              values: Mapping[str, Any]) -> list[dict[str, Any]]:  # fmt: skip
    # the Spark settings a transient cluster would have (conf/emr/cluster.json's spark-defaults), with the
    # executor ceiling the application is given here instead of the EC2 fleet's
    cluster = _cluster_request({**values, "MAX_EXECUTORS": str(emr.serverless_max_executors)}, steps)
    defaults = next(c["Properties"] for c in cluster["Configurations"] if c["Classification"] == "spark-defaults")
    submission = secrets.token_hex(4)
    return [serverless.job_run_request(step, application_id=args.serverless, role=str(emr.serverless_execution_role),
                                       run_id=run_id, env=args.env, version=str(values["VERSION"]),
                                       log_uri=emr.logs_uri(), python_env=emr.serverless_python_env,
                                       defaults=defaults, submission=submission) for step in steps]  # fmt: skip


def _serverless_and_follow(emr: EmrConfig, job_runs: list[dict[str, Any]], run_id: str,
                           raw: Mapping[str, Any]) -> int:  # fmt: skip
    import boto3

    client = boto3.client("emr-serverless", region_name=emr.region)
    run = RunFollower(str((raw.get("output") or {}).get("root")), run_id, since=datetime.now(UTC))
    print(f"run id {run_id}; manifest {run.run_dir}/manifest.json")

    def on_poll(kind: str, state: str) -> None:
        if kind == "migrate" and state == "RUNNING":
            run.poll({})

    states, ids = serverless.run_in_order(client, job_runs, emr.poll_seconds, on_poll=on_poll)
    for request in job_runs:
        kind = str(request["name"]).split()[0]
        app = request["applicationId"]
        where = f"{emr.logs_uri().rstrip('/')}/applications/{app}/jobs/{ids[kind]}/" if kind in ids else "-"
        print(f"{states[kind]:<10} {request['name']}  logs {where}")
    return run.finish(states)


def _cluster_request(values: Mapping[str, Any], steps: list[dict[str, Any]]) -> dict[str, Any]:
    request = render(json.loads(CLUSTER_FILE.read_text(encoding="utf-8")), values)
    request["Steps"] = steps
    return request


def _upload(artifact: package.Artifact, root: str, deps_uri: str) -> None:
    for name, path in sorted(artifact.files.items()):
        if name == package.DEPS_NAME:
            # named by the lock and platform, not by the commit: uploaded once for every version that shares it
            folder, _, leaf = deps_uri.rpartition("/")
            if leaf in list_names(folder):
                print(f"present  {deps_uri}")
            else:
                put_file(path, deps_uri)
                print(f"uploaded {deps_uri} ({path.stat().st_size / 1e6:,.0f} MB)")
            continue
        put_file(path, f"{root}/{name}")
        print(f"uploaded {root}/{name}")


def _submit_and_follow(
    args: Any,
    emr: EmrConfig,
    steps: list[dict[str, Any]],
    request: dict[str, Any] | None,
    run_id: str,
    raw: Mapping[str, Any],
) -> int:
    import boto3

    client = boto3.client("emr", region_name=emr.region)
    submitted = datetime.now(UTC)
    if request is not None:
        cluster_id = client.run_job_flow(**request)["JobFlowId"]
        listed = client.list_steps(ClusterId=cluster_id)["Steps"]
        ordered = sorted(listed, key=lambda s: s["Status"]["Timeline"]["CreationDateTime"])
        step_ids = [s["Id"] for s in ordered]
        names = {s["Id"]: s["Name"] for s in listed}
        print(f"created cluster {cluster_id} with {len(step_ids)} step(s)")
    else:
        cluster_id = args.cluster_id
        step_ids = client.add_job_flow_steps(JobFlowId=cluster_id, Steps=steps)["StepIds"]
        names = {step_id: s["Name"] for step_id, s in zip(step_ids, steps, strict=True)}
        print(f"added {len(step_ids)} step(s) to {cluster_id}: {', '.join(step_ids)}")
    log_root = emr.logs_uri().rstrip("/")
    root = str((raw.get("output") or {}).get("root"))
    run = RunFollower(root, run_id, since=submitted)
    print(f"run id {run_id}; manifest {run.run_dir}/manifest.json")
    if args.no_wait:
        return 0
    kinds = {step_id: names[step_id].split()[0] for step_id in step_ids}
    migrate = [step_id for step_id, kind in kinds.items() if kind == "migrate"]

    def on_poll(now: dict[str, str]) -> None:
        if migrate and now.get(migrate[0]) == "RUNNING":
            run.poll(now)

    states = _follow(client, cluster_id, step_ids, emr.poll_seconds, on_poll=on_poll)
    for step_id in step_ids:
        print(f"{states[step_id]:<10} {names[step_id]}  logs {log_root}/{cluster_id}/steps/{step_id}/  (driver: "
              f"{log_root}/{cluster_id}/containers/)")  # fmt: skip
    return run.finish({kinds[step_id]: state for step_id, state in states.items()})


class RunFollower:
    """The run behind the steps, read from its folder: the driver's progress lines while the migrate step runs
    (``_progress/stage-*.json``), then the manifest and the reconcile verdict, and the run's exit code. Files
    older than the submission (``since``, less a few minutes of clock skew) are an earlier attempt's under the
    same run id, and are not this run's."""

    SKEW = timedelta(minutes=5)

    def __init__(self, root: str, run_id: str, *, since: datetime) -> None:
        self.run_dir = f"{root.rstrip('/')}/runs/{run_id}"
        # a root known only on the cluster (an unset ${VAR}) cannot be read from here
        self.readable = "${" not in root and root not in ("", "None")
        self.since = (since - self.SKEW).isoformat()
        self.seen: dict[str, str] = {}
        self.warned = False
        self.started = time.monotonic()

    def poll(self, _states: Mapping[str, str]) -> None:
        """Print each stage's progress line that is new since the last poll (a read that fails is said once
        and tried again at the next poll)."""
        if not self.readable:
            return
        try:
            names = [n for n in list_names(f"{self.run_dir}/_progress") if n.startswith("stage-")]
            for name in names:
                line = json.loads(read_text(f"{self.run_dir}/_progress/{name}") or "{}")
                stamp = str(line.get("ts") or "")
                if stamp >= self.since and stamp != self.seen.get(name):
                    self.seen[name] = stamp
                    print(f"[{time.monotonic() - self.started:7.1f} s] {line.get('message')}", flush=True)
        except Exception as exc:  # following is advisory: the steps are what is waited for
            if not self.warned:
                print(f"submit: cannot read the run's progress under {self.run_dir} ({type(exc).__name__}); "
                      "trying again at each poll", file=sys.stderr)  # fmt: skip
                self.warned = True

    def _read(self, name: str) -> dict[str, Any] | None:
        """One of the run's JSON files; None when absent, unreadable (said on stderr) or an earlier attempt's."""
        try:
            doc = json.loads(read_text(f"{self.run_dir}/{name}") or "null")
        except Exception as exc:  # e.g. AccessDenied for a file that is not there
            print(f"submit: cannot read {self.run_dir}/{name} ({type(exc).__name__})", file=sys.stderr)
            return None
        stamp = (doc or {}).get("started_at") or (doc or {}).get("checked_at") or ""
        return doc if doc is not None and stamp >= self.since else None

    def finish(self, states: Mapping[str, str]) -> int:
        """Print the run's summary and reconcile verdict; the run's exit code (SPEC's: 0, 2, 3, 4, 5), 1 for
        a migrate step that ended without a manifest, else by the steps' states."""
        manifest = reconciled = None
        if self.readable:
            manifest = self._read("manifest.json")
            reconciled = self._read("reconcile.json")
        if manifest is not None:
            print()
            print(render_summary(manifest))
        if reconciled is not None:
            print(f"reconcile: {'PASSED' if reconciled.get('passed') else 'MISMATCH'} ({reconciled.get('keys', 0):,} "
                  f"keys; {reconciled.get('mismatching_hotel_months') or {}} hotel-months off)")  # fmt: skip
        print(f"run id {self.run_dir.rsplit('/', 1)[-1]}; manifest {self.run_dir}/manifest.json")
        if not self.readable:
            print("submit: the run folder is not readable from here: the exit code follows the steps", file=sys.stderr)
            return 0 if all(s == "COMPLETED" for s in states.values()) else 1
        return run_exit_code(states, manifest, reconciled)


def run_exit_code(states: Mapping[str, str], manifest: Mapping[str, Any] | None,
                  reconciled: Mapping[str, Any] | None) -> int:  # fmt: skip
    """``states``: step kind (migrate, reconcile) -> its final state."""
    if "migrate" in states:
        if manifest is None or manifest.get("status") == "running":
            return 1  # the step died before the run wrote its end
        if int(manifest.get("exit_code") or 0):
            return int(manifest["exit_code"])
    if "reconcile" in states:
        if reconciled is not None and not reconciled.get("passed"):
            return 5
        if reconciled is None or states["reconcile"] != "COMPLETED":
            return 1
    return 0 if all(s == "COMPLETED" for s in states.values()) else 1


def _follow(client: Any, cluster_id: str, step_ids: list[str], poll_seconds: float,
            on_poll: Callable[[dict[str, str]], None] | None = None) -> dict[str, str]:  # fmt: skip
    """Poll every step until each is terminal; print each state change with the elapsed time (``on_poll``:
    called after each round with the states)."""
    started = time.monotonic()
    states: dict[str, str] = {}
    while True:
        for step_id in step_ids:
            if states.get(step_id) in TERMINAL:
                continue
            status = client.describe_step(ClusterId=cluster_id, StepId=step_id)["Step"]["Status"]
            state = status["State"]
            if state != states.get(step_id):
                reason = (status.get("FailureDetails") or {}).get("Reason")
                extra = f" ({reason})" if reason else ""
                print(f"[{time.monotonic() - started:7.1f} s] {step_id} {state}{extra}", flush=True)
                states[step_id] = state
        if on_poll is not None:
            on_poll(states)
        if all(states.get(s) in TERMINAL for s in step_ids):
            return states
        time.sleep(poll_seconds)


if __name__ == "__main__":
    sys.exit(main())
