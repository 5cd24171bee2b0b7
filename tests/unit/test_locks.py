"""The two locks agree with setup.py, with each other, and with what this environment runs (so CI tests the
pinned versions the cluster gets, not setup.py's ranges)."""

from __future__ import annotations

import ast
import sysconfig
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.lockfile import read_lock

ROOT = Path(__file__).resolve().parent.parent.parent
DEV = read_lock(ROOT / "requirements" / "dev.lock")
CLUSTER = read_lock(ROOT / "requirements" / "cluster.lock")
# what EMR itself ships with Spark, so the nodes' lock leaves them out
FROM_EMR = {"pyspark", "py4j"}


def _install_requires() -> list[Requirement]:
    tree = ast.parse((ROOT / "setup.py").read_text())
    call = next(n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "setup")
    listed = next(k.value for k in call.keywords if k.arg == "install_requires")
    return [Requirement(r) for r in ast.literal_eval(listed)]


def test_every_setup_py_requirement_is_locked_within_its_range() -> None:
    install = _install_requires()
    assert len(install) >= 12
    for req in install:
        name = canonicalize_name(req.name)
        assert name in DEV, f"{req} is not in dev.lock"
        assert req.specifier.contains(DEV[name][0]), f"dev.lock's {name}=={DEV[name][0]} is outside {req}"
        if name not in FROM_EMR:
            assert CLUSTER.get(name, ("",))[0] == DEV[name][0], f"cluster.lock's {name} differs from dev.lock"


def test_the_cluster_lock_is_dev_lock_without_what_emr_ships() -> None:
    assert CLUSTER, "cluster.lock has no pins"
    assert not FROM_EMR & CLUSTER.keys()
    for name, (version, hashes) in CLUSTER.items():
        assert name in DEV and DEV[name][0] == version, f"{name}=={version}: dev.lock has {DEV.get(name)}"
        assert hashes and hashes <= DEV[name][1], f"{name}: a hash of cluster.lock is not dev.lock's"


def test_this_environment_runs_exactly_the_dev_lock() -> None:
    # the first distribution of each name on sys.path, as an import finds it (setuptools appends its own
    # vendored copies, e.g. of packaging, to sys.path once imported)
    def installed(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    different = {n: (installed(n), v) for n, (v, _) in DEV.items() if installed(n) != v}
    assert not different, f"installed vs dev.lock: {different} (make venv installs the lock)"
    # and nothing beside it in the environment but our own code and pip itself
    site = Path(sysconfig.get_paths()["purelib"])
    here = {canonicalize_name(d.metadata["Name"]) for d in metadata.distributions(path=[str(site)])}
    extra = here - DEV.keys() - {canonicalize_name("edw-reservation-migration"), "pip"}
    assert not extra, f"installed but not in dev.lock: {sorted(extra)}"
