"""A Spark standalone cluster on this machine (a master and workers, each its own JVM, from the pyspark
distribution's ``spark-class``), for running the packaged job as an EMR step runs it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyspark

from bootstrap.local.services import free_port

SPARK_HOME = Path(pyspark.__file__).resolve().parent
# Driver and executors run this instead of the venv's python: it drops the checkout's editable install
# from the import machinery, so that only what the artifact ships (--py-files) can be imported.
ISOLATE = '''
import runpy, sys
sys.meta_path[:] = [f for f in sys.meta_path if not getattr(f, "__module__", "").startswith("__editable__")]
sys.path_hooks[:] = [h for h in sys.path_hooks if not getattr(h, "__module__", "").startswith("__editable__")]
sys.path[:] = [p for p in sys.path if p and p != "{root}"]
args = sys.argv[1:]
while args and args[0] in ("-u", "-B", "-s", "-E"):
    args = args[1:]
if args[:1] == ["-m"]:
    sys.argv = args[1:]
    runpy.run_module(args[1], run_name="__main__", alter_sys=True)
else:
    sys.argv = args
    runpy.run_path(args[0], run_name="__main__")
'''


@dataclass
class Standalone:
    url: str  # spark://127.0.0.1:PORT
    python: Path  # the isolating interpreter wrapper (PYSPARK_PYTHON / PYSPARK_DRIVER_PYTHON)
    logs: Path


def _wait(url: str, what: str, timeout_s: float = 60.0) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                return str(answer.read().decode())
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{what} did not come up at {url}")


@contextmanager
def standalone_cluster(root: Path, *, workers: int = 2, cores: int = 1, memory: str = "1g") -> Iterator[Standalone]:
    """A master and ``workers`` workers on loopback; logs under ``root/logs`` (kept: the caller's tmp)."""
    logs = root / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    wrapper = root / "python"
    (root / "isolate.py").write_text(ISOLATE.replace("{root}", str(Path(__file__).resolve().parents[2])))
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{root / "isolate.py"}" "$@"\n')
    wrapper.chmod(0o755)
    env = {**os.environ, "SPARK_HOME": str(SPARK_HOME), "SPARK_LOCAL_IP": "127.0.0.1", "TZ": "UTC",
           "PYSPARK_PYTHON": str(wrapper), "SPARK_LOG_DIR": str(logs)}  # fmt: skip
    env.pop("PYTHONPATH", None)
    port, ui = free_port(), free_port()
    spark_class = str(SPARK_HOME / "bin" / "spark-class")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        with open(logs / "master.log", "wb") as out:
            procs.append(subprocess.Popen(
                [spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
                 "--webui-port", str(ui)], env=env, stdout=out, stderr=subprocess.STDOUT,
            ))  # fmt: skip
        _wait(f"http://127.0.0.1:{ui}/json/", "the master")
        for k in range(workers):
            work = root / f"worker-{k}"
            work.mkdir(exist_ok=True)
            with open(logs / f"worker-{k}.log", "wb") as out:
                procs.append(subprocess.Popen(
                    [spark_class, "org.apache.spark.deploy.worker.Worker", f"spark://127.0.0.1:{port}",
                     "--host", "127.0.0.1", "--cores", str(cores), "--memory", memory, "--webui-port", "0",
                     "--work-dir", str(work)], env=env, stdout=out, stderr=subprocess.STDOUT,
                ))  # fmt: skip
        deadline = time.monotonic() + 60
        while json.loads(_wait(f"http://127.0.0.1:{ui}/json/", "the master")).get("aliveworkers", 0) < workers:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{workers} workers did not register (logs: {logs})")
            time.sleep(0.5)
        yield Standalone(f"spark://127.0.0.1:{port}", wrapper, logs)
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        for k in range(workers):  # executors' stderr, for a failed test's report
            for err in (root / f"worker-{k}").rglob("stderr"):
                shutil.copyfile(err, logs / f"worker-{k}-{err.parent.parent.name}-{err.parent.name}.stderr")
