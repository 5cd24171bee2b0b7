"""The migration as EMR Serverless job runs: the same artifact and the same steps as on a cluster.

Each step of ``emr_steps.json`` (rendered as for a cluster) becomes one job run: its ``spark-submit`` options
are the job run's ``sparkSubmitParameters`` (``spark.yarn.appMasterEnv.*`` becomes
``spark.emr-serverless.driverEnv.*``; there is no deploy mode), its script the entry point and the rest its
arguments. So a step and a job run cannot drift apart. The runs go one after the other, as a cluster's steps
do with ``CANCEL_AND_WAIT``: a run that does not succeed cancels the ones after it.

Python: EMR Serverless 7 images run Python 3.9. The job's CPython 3.11 and the locked dependencies come
either from the application's image (``conf/emr/serverless.Dockerfile``: Amazon Linux's python3.11 and
``python-deps.tar`` installed by the same bootstrap script, no package index), or from a packed environment
(``emr.serverless_python_env``, an archive holding its own interpreter, unpacked as ``environment``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

IMAGE_PYTHON = "/usr/bin/python3.11"
ENV_PYTHON = "./environment/bin/python"
# EMR Serverless job-run states (GetJobRun), and the step states the rest of jobs.submit speaks
TERMINAL = frozenset({"SUCCESS", "FAILED", "CANCELLED"})
AS_STEP = {"SUCCESS": "COMPLETED", "FAILED": "FAILED", "CANCELLED": "CANCELLED"}
_YARN_DRIVER_ENV = "spark.yarn.appMasterEnv."
_DRIVER_ENV = "spark.emr-serverless.driverEnv."


# what a cluster's spark-defaults set that EMR Serverless manages itself, or that name YARN
_NOT_SERVERLESS = ("spark.yarn.", "spark.shuffle.service.", "spark.dynamicAllocation.enabled")


def job_driver(step: Mapping[str, Any], python_env: str | None,
               defaults: Mapping[str, str] | None = None) -> dict[str, Any]:  # fmt: skip
    """A rendered EMR step (``command-runner.jar spark-submit …``) as a job run's ``sparkSubmit`` driver;
    ``defaults``: the transient cluster's rendered ``spark-defaults`` (time zone, JIT options, executor cores
    and ceiling, ...), which a job run gets as options since it has no cluster configuration."""
    params, archives, entry, arguments = _step_options(step)
    python = IMAGE_PYTHON
    if python_env:
        archives.append(f"{python_env}#environment")
        python = ENV_PYTHON
    if archives:
        params += ["--archives", ",".join(archives)]
    for key in (f"{_DRIVER_ENV}PYSPARK_PYTHON", f"{_DRIVER_ENV}PYSPARK_DRIVER_PYTHON",
                "spark.executorEnv.PYSPARK_PYTHON"):  # fmt: skip
        params += ["--conf", f"{key}={python}"]
    for key in (f"{_DRIVER_ENV}TZ", "spark.executorEnv.TZ"):  # what a transient cluster's spark-env sets
        params += ["--conf", f"{key}=UTC"]
    given = {p.split("=", 1)[0] for p in params[1::2] if "=" in p}
    for key, value in sorted((defaults or {}).items()):
        if not key.startswith(_NOT_SERVERLESS) and key not in given and str(value) != "":
            params += ["--conf", f"{key}={value}"]
    if any(" " in p for p in params):
        raise ValueError(f"step {step.get('Name')!r}: a spark-submit option holds a space: {params}")
    return {"sparkSubmit": {"entryPoint": entry, "entryPointArguments": arguments,
                            "sparkSubmitParameters": " ".join(params)}}  # fmt: skip


def _step_options(step: Mapping[str, Any]) -> tuple[list[str], list[str], str, list[str]]:
    """A step's spark-submit options (without its deploy mode and archives), its archives, script, arguments."""
    args = list(step["HadoopJarStep"]["Args"])
    if args[:1] != ["spark-submit"]:
        raise ValueError(f"step {step.get('Name')!r}: not a spark-submit step")
    params: list[str] = []
    archives: list[str] = []
    i = 1
    while i < len(args) and args[i].startswith("--"):
        option, value = args[i], args[i + 1]
        i += 2
        if option == "--deploy-mode":  # serverless: the driver always runs in the service
            continue
        if option == "--archives":
            archives.append(value)
            continue
        if option == "--conf" and value.startswith(_YARN_DRIVER_ENV):
            value = _DRIVER_ENV + value[len(_YARN_DRIVER_ENV) :]
        params += [option, value]
    return params, archives, args[i], args[i + 1 :]


def job_run_request(step: Mapping[str, Any], *, application_id: str, role: str, run_id: str, env: str,
                    version: str, log_uri: str, python_env: str | None, defaults: Mapping[str, str],
                    submission: str) -> dict[str, Any]:  # fmt: skip
    kind = str(step["Name"]).split()[0]
    return {
        "applicationId": application_id,
        # one job run per step of one submission: botocore's retries of StartJobRun (same token) start nothing
        # new, and a later submission under the same run id (a resume) starts its own
        "clientToken": f"{run_id}-{kind}-{submission}",
        "executionRoleArn": role,
        "name": step["Name"],
        "jobDriver": job_driver(step, python_env, defaults),
        "configurationOverrides": {"monitoringConfiguration": {"s3MonitoringConfiguration": {"logUri": log_uri}}},
        "tags": {"application": "reservation-migration", "env": env, "code-version": version, "run-id": run_id},
    }


def run_in_order(
    client: Any,
    requests: Sequence[dict[str, Any]],
    poll_seconds: float,
    on_poll: Callable[[str, str], None] | None = None,
) -> tuple[dict[str, str], dict[str, str]]:
    """Start each job run after the one before it succeeded; follow each to its end, printing state changes.
    Returns step kind -> final state in step terms (COMPLETED, FAILED, CANCELLED: not started because an
    earlier run did not succeed), and step kind -> job run id. ``on_poll(kind, state)`` runs after every poll."""
    started = time.monotonic()
    states: dict[str, str] = {}
    ids: dict[str, str] = {}
    for request in requests:
        kind = str(request["name"]).split()[0]
        if any(state != "COMPLETED" for state in states.values()):
            states[kind] = "CANCELLED"
            print(f"[{time.monotonic() - started:7.1f} s] {request['name']}: not started (an earlier run failed)")
            continue
        job_run_id = ids[kind] = client.start_job_run(**request)["jobRunId"]
        print(f"started job run {job_run_id} on {request['applicationId']}: {request['name']}", flush=True)
        seen = ""
        while True:
            run = client.get_job_run(applicationId=request["applicationId"], jobRunId=job_run_id)["jobRun"]
            state = run["state"]
            if state != seen:
                details = f" ({run['stateDetails']})" if run.get("stateDetails") else ""
                print(f"[{time.monotonic() - started:7.1f} s] {job_run_id} {state}{details}", flush=True)
                seen = state
            if on_poll is not None:
                on_poll(kind, state)
            if state in TERMINAL:
                states[kind] = AS_STEP[state]
                break
            time.sleep(poll_seconds)
    return states, ids
