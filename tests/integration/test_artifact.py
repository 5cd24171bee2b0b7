"""The EMR artifact carries its dependencies: every pin of requirements/cluster.lock as a wheel for the
cluster's platform (EMR 7: CPython 3.11 on Amazon Linux 2023, glibc 2.34, x86_64), each the locked file, and
the bootstrap installs them with no package index."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
from packaging.tags import compatible_tags, cpython_tags
from packaging.utils import canonicalize_name, parse_wheel_filename

from jobs import package
from tests.lockfile import read_lock

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parent.parent.parent
LOCK = ROOT / "requirements" / "cluster.lock"
# the platform tags a CPython 3.11 on glibc 2.34 / x86_64 accepts (PEP 600, with the PEP 513/571/599 aliases)
PLATFORMS = [f"manylinux_2_{m}_x86_64" for m in range(34, 4, -1)] + [
    "manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"]  # fmt: skip
SUPPORTED = {str(t) for t in cpython_tags((3, 11), platforms=PLATFORMS)} | {
    str(t) for t in compatible_tags((3, 11), "cp311", PLATFORMS)}  # fmt: skip


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return package.build(tmp_path_factory.mktemp("dist"), deps=True)


def _members(tar_path: Path) -> dict[str, bytes]:
    with tarfile.open(tar_path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def test_every_locked_package_is_in_the_artifact_for_the_cluster_platform(artifact: Any) -> None:
    tar_path = artifact.files["python-deps.tar"]
    members = _members(tar_path)
    assert members.pop("cluster.lock") == LOCK.read_bytes()
    pins = read_lock(LOCK)
    found: dict[str, str] = {}
    for name, data in members.items():
        folder, _, filename = name.partition("/")
        assert folder == "wheels" and filename.endswith(".whl"), name
        project, version, _build, tags = parse_wheel_filename(filename)
        project = canonicalize_name(project)
        assert project not in found, f"two wheels for {project}"
        found[project] = str(version)
        assert project in pins, f"{filename}: not in cluster.lock"
        assert hashlib.sha256(data).hexdigest() in pins[project][1], f"{filename}: not the locked file"
        assert {str(t) for t in tags} & SUPPORTED, f"{filename}: does not install on the cluster's platform"
    assert found == {name: version for name, (version, _) in pins.items()}
    size = tar_path.stat().st_size
    print(f"python-deps.tar: {len(found)} wheels, {size / 1e6:.1f} MB")


def test_the_bootstrap_resolves_the_lock_from_the_artifact_alone_and_says_what_is_missing(
    artifact: Any, tmp_path: Path
) -> None:
    script = artifact.files["install_python_deps.sh"]
    env = {**os.environ, "MIGRATION_PYTHON": sys.executable}
    # --isolated --no-index: neither an index nor this machine's pip configuration can fill a gap
    ok = subprocess.run(["bash", str(script), str(artifact.files["python-deps.tar"]), "--check"], env=env,
                        capture_output=True, text=True, timeout=300)  # fmt: skip
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "every pin of cluster.lock resolves from the wheelhouse alone" in ok.stdout

    short = tmp_path / "python-deps.tar"  # the same, less one locked wheel
    with tarfile.open(artifact.files["python-deps.tar"]) as source, tarfile.open(short, "w") as tar:
        for member in source.getmembers():
            if not member.name.startswith("wheels/pyarrow-"):
                tar.addfile(member, source.extractfile(member))
    broken = subprocess.run(["bash", str(script), str(short), "--check"], env=env, capture_output=True,
                            text=True, timeout=300)  # fmt: skip
    assert broken.returncode != 0
    assert "pyarrow" in broken.stderr and "every pin" not in broken.stdout
