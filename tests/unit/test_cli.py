"""The submit command line stays light: it loads neither Spark nor a loader (it only packages and calls EMR)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

PROBE = """
import runpy, sys
sys.argv = ["submit", "--help"]
try:
    runpy.run_module("jobs.submit", run_name="__main__")
except SystemExit as exc:
    code = exc.code
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("pyspark", "py4j", "loaders", "readers", "transforms"))
print("EXIT", code)
print("HEAVY", ",".join(heavy))
"""


def test_submit_help_imports_neither_pyspark_nor_a_loader() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=60)
    lines = out.stdout.splitlines()
    assert lines[0].startswith("usage: submit"), out.stdout + out.stderr
    assert "EXIT 0" in lines
    assert lines[-1] == "HEAVY ", lines[-1]  # nothing from pyspark, py4j, loaders, readers or transforms


def test_the_probe_sees_a_heavy_import() -> None:
    """The same probe on jobs.migrate (which loads the pipeline) does list them: the check above can fail."""
    probe = PROBE.replace('"jobs.submit"', '"jobs.migrate"').replace('"submit", "--help"', '"migrate", "--help"')
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    heavy = out.stdout.splitlines()[-1]
    assert "pyspark" in heavy, out.stdout + out.stderr
