"""How long a node's bootstrap takes to install the job's Python dependencies: from the artifact's wheelhouse
(``install_python_deps.sh``: ``pip --no-index --require-hashes``, what the cluster runs) against the same lock
installed from the package index (what every node did before), each into a fresh python3.11 environment.

    python benchmarks/bootstrap.py [--runs N]

Prints ``BENCH bootstrap_wheelhouse_s``, ``BENCH bootstrap_index_s`` (``--no-cache-dir``: a new node has no
pip cache; the index is PyPI, or the mirror of the user's pip configuration) and their ratio. A real node also
copies ``python-deps.tar`` from S3 first (timed here from local disk, in the script's log line) and may
install python3.11 itself from the Amazon Linux repository (not timed here).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jobs import package  # noqa: E402


def fresh_python(folder: Path) -> str:
    shutil.rmtree(folder, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    return str(folder / "bin" / "python")


def timed(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    deps = package.python_deps()
    print(f"python-deps.tar {deps.stat().st_size / 1e6:.1f} MB ({deps.name})")
    best = {"wheelhouse": float("inf"), "index": float("inf")}
    with tempfile.TemporaryDirectory(prefix="bench-bootstrap-") as tmp:
        for run in range(args.runs):
            python = fresh_python(Path(tmp) / "wheelhouse")
            env = {**os.environ, "MIGRATION_PYTHON": python}
            took = timed(["bash", str(ROOT / "bootstrap" / "install_python_deps.sh"), str(deps)], env)
            best["wheelhouse"] = min(best["wheelhouse"], took)
            python = fresh_python(Path(tmp) / "index")
            took_index = timed([python, "-m", "pip", "install", "--quiet", "--no-cache-dir", "--only-binary=:all:",
                                "--require-hashes", "-r", str(package.LOCK)], dict(os.environ))  # fmt: skip
            best["index"] = min(best["index"], took_index)
            print(f"run {run + 1}: wheelhouse {took:.1f} s, index {took_index:.1f} s", flush=True)
    print(f"BENCH bootstrap_wheelhouse_s {best['wheelhouse']:.1f} s")
    print(f"BENCH bootstrap_index_s {best['index']:.1f} s")
    print(f"BENCH bootstrap_index_vs_wheelhouse {best['index'] / best['wheelhouse']:.2f} x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
