"""python -m jobs.package [--out dist]: the EMR artifact, versioned by git commit.

Writes ``dist/<version>/``: ``migration.zip`` (our packages, for ``--py-files``), ``conf.zip`` (conf/, shipped
with ``--archives …#conf`` and found through ``MIGRATION_CONF_DIR``), the entry scripts (``migrate.py``,
``reconcile.py`` when it exists), ``migration-udfs.jar`` (the job's JVM functions, for ``--jars``; built with
javac, see :mod:`jobs.jars`), ``install_python_deps.sh`` (the bootstrap action) and, with ``deps``,
``python-deps.tar``: ``requirements/cluster.lock`` and the wheels it pins for the cluster's platform, which the
bootstrap installs with ``pip --no-index --require-hashes`` (no node reaches a package index).

The wheels are downloaded once per lock and platform into a cache (``.cache/python-deps/``); the tar is named
by that key, so a cluster's dependencies are uploaded once, not once per commit.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from jobs.jars import JAR_NAME, udf_jar

ROOT = Path(__file__).resolve().parent.parent
PACKAGES: tuple[str, ...] = ("jobs", "pipeline", "readers", "transforms", "loaders", "storage")
# Files of those packages the job never runs: the sample generator's command (the generator, sample/, is not
# in PACKAGES either).
EXCLUDED: frozenset[str] = frozenset({"jobs/generate_sample.py"})
ENTRY_POINTS: tuple[str, ...] = ("migrate", "reconcile")
DATA_SUFFIXES: tuple[str, ...] = (".py", ".sql")
# conf.zip: the configuration, and CA bundles under conf/certs/ (RDS's global-bundle.pem for aurora.sslrootcert)
CONF_SUFFIXES: tuple[str, ...] = (".yaml", ".json", ".pem")
CERTS = "certs"
# A fixed timestamp inside the zips: the same commit gives the same bytes.
ZIP_TIME = (2020, 1, 1, 0, 0, 0)
LOCK = ROOT / "requirements" / "cluster.lock"
DEPS_NAME = "python-deps.tar"
DEPS_CACHE = ROOT / ".cache" / "python-deps"


@dataclass(frozen=True)
class Platform:
    """Where the job's Python runs: EMR 7 is Amazon Linux 2023 (glibc 2.34) with CPython 3.11."""

    python: str = "3.11"
    glibc: tuple[int, int] = (2, 34)
    arch: str = "x86_64"

    def tags(self) -> list[str]:
        """pip's ``--platform`` values: every manylinux level the node's glibc runs, newest first (pip does not
        widen one ``manylinux_2_34`` to the older levels), with the legacy names wheels still carry."""
        major, minor = self.glibc
        tags = [f"manylinux_{major}_{m}_{self.arch}" for m in range(minor, 4, -1)]
        return tags + [f"manylinux{name}_{self.arch}" for name in ("2014", "2010", "1")]


EMR_7 = Platform()


@dataclass(frozen=True)
class Artifact:
    version: str
    folder: Path
    files: dict[str, Path]  # name in the artifact -> local path


def code_version(root: Path = ROOT) -> str:
    """Short commit, with ``-dirty`` when the working tree differs from it (never silently mislabelled)."""
    try:
        sha = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=root, capture_output=True,
                             text=True, check=True, timeout=10).stdout.strip()  # fmt: skip
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, check=True, timeout=10).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{sha}-dirty" if dirty else sha


def build(out: Path, *, root: Path = ROOT, version: str | None = None, deps: bool = False) -> Artifact:
    version = version or code_version(root)
    folder = out / version
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    files["migration.zip"] = _zip(folder / "migration.zip", root, [root / p for p in PACKAGES], DATA_SUFFIXES)
    files["conf.zip"] = _zip(folder / "conf.zip", root / "conf", [root / "conf"], CONF_SUFFIXES)
    files[JAR_NAME] = udf_jar(folder / JAR_NAME, sources=root / "jvm" / "src" / "main" / "java")
    for name in ENTRY_POINTS:
        script = root / "jobs" / f"{name}.py"
        if script.is_file():
            target = folder / f"{name}.py"
            target.write_bytes(script.read_bytes())
            files[f"{name}.py"] = target
    bootstrap = folder / "install_python_deps.sh"
    bootstrap.write_bytes((root / "bootstrap" / "install_python_deps.sh").read_bytes())
    files["install_python_deps.sh"] = bootstrap
    if deps:
        target = folder / DEPS_NAME
        target.unlink(missing_ok=True)
        _link_or_copy(python_deps(), target)
        files[DEPS_NAME] = target
    return Artifact(version, folder, files)


def deps_key(lock: Path = LOCK, platform: Platform = EMR_7) -> str:
    """What the dependency tar holds: the lock's bytes and the platform its wheels are for."""
    digest = hashlib.sha256(lock.read_bytes())
    digest.update(" ".join([platform.python, *platform.tags()]).encode())
    return digest.hexdigest()[:16]


def python_deps(lock: Path = LOCK, platform: Platform = EMR_7, cache: Path = DEPS_CACHE) -> Path:
    """``cluster.lock`` and the wheels it pins for ``platform``, in one tar under the cache (made once per key).

    pip checks every file against the lock's hashes and takes binary wheels only (a node has no compiler and
    must build nothing); a pin with no wheel for the platform fails here, on the submitting machine, not at
    the bootstrap of a cluster. The user's pip configuration (a mirror, a proxy) is honoured."""
    target = cache / f"python-deps-{deps_key(lock, platform)}.tar"
    if target.is_file():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="python-deps-", dir=cache) as tmp:
        wheels = Path(tmp) / "wheels"
        platforms = [arg for tag in platform.tags() for arg in ("--platform", tag)]
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--require-hashes",
               "--only-binary=:all:", "--implementation", "cp", "--python-version", platform.python, *platforms,
               "-r", str(lock), "-d", str(wheels)]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PIP_NO_INPUT": "1"})
        if done.returncode != 0:
            errors = [line for line in done.stderr.splitlines() if line.startswith("ERROR")]
            raise RuntimeError(f"pip download for {platform.arch} glibc {platform.glibc}: "
                               f"{'; '.join(errors) or done.stderr.strip()[-500:]}")  # fmt: skip
        partial = Path(tmp) / DEPS_NAME
        with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
            tar.add(lock, arcname="cluster.lock", filter=_plain)
            for wheel in sorted(wheels.iterdir()):
                tar.add(wheel, arcname=f"wheels/{wheel.name}", filter=_plain)
        partial.replace(target)
    return target


def _plain(info: tarfile.TarInfo) -> tarfile.TarInfo:
    # the same lock gives the same bytes: no owner, no build time
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = 0
    info.mode = 0o644
    return info


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system
        shutil.copyfile(source, target)


def _zip(target: Path, base: Path, folders: list[Path], suffixes: tuple[str, ...]) -> Path:
    paths = sorted(p for folder in folders for p in folder.rglob("*") if p.is_file() and p.suffix in suffixes
                   and "__pycache__" not in p.parts and p.relative_to(base).as_posix() not in EXCLUDED)  # fmt: skip
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in paths:
            if path.suffix == ".pem" and not _public_certificate(path, base):
                continue
            info = zipfile.ZipInfo(path.relative_to(base).as_posix(), date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, path.read_bytes())
    return target


def _public_certificate(path: Path, base: Path) -> bool:
    """A .pem the artifact may carry: under ``certs/``, and certificates only. A private key anywhere under conf/
    (a TLS zip's material left in the working tree) is refused, not shipped to S3 and every node."""
    if b"PRIVATE KEY" in path.read_bytes():
        raise RuntimeError(f"{path}: holds a private key; the artifact ships certificates only")
    return path.relative_to(base).parts[:1] == (CERTS,)


def main(argv: list[str] | None = None) -> int:
    from jobs.cli import OneLineParser

    parser = OneLineParser(prog="package", description="Build the EMR artifact under DIR/<version>/.")
    parser.add_argument("--out", default=str(ROOT / "dist"))
    parser.add_argument("--no-deps", action="store_true", help="leave out python-deps.tar (no download)")
    args = parser.parse_args(argv)
    try:
        artifact = build(Path(args.out), deps=not args.no_deps)
    except RuntimeError as exc:
        print(f"package: {exc}", file=sys.stderr)
        return 1
    for name, path in sorted(artifact.files.items()):
        print(f"{artifact.version}  {name:<24} {path.stat().st_size:>10,} B  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
