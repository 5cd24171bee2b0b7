"""python -m jobs.package [--out dist]: the EMR artifact, versioned by git commit.

Writes ``dist/<version>/``: ``migration.zip`` (our packages, for ``--py-files``), ``conf.zip`` (conf/, shipped
with ``--archives …#conf`` and found through ``MIGRATION_CONF_DIR``), the entry scripts (``migrate.py``,
``reconcile.py`` when it exists), ``migration-udfs.jar`` (the job's JVM functions, for ``--jars``; built with
javac, see :mod:`jobs.jars`) and ``install_python_deps.sh`` (the bootstrap action). Native and heavy
dependencies are not in the zip: the bootstrap installs them on every node.
"""

from __future__ import annotations

import subprocess
import sys
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
# A fixed timestamp inside the zips: the same commit gives the same bytes.
ZIP_TIME = (2020, 1, 1, 0, 0, 0)


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


def build(out: Path, *, root: Path = ROOT, version: str | None = None) -> Artifact:
    version = version or code_version(root)
    folder = out / version
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    files["migration.zip"] = _zip(folder / "migration.zip", root, [root / p for p in PACKAGES], DATA_SUFFIXES)
    files["conf.zip"] = _zip(folder / "conf.zip", root / "conf", [root / "conf"], (".yaml", ".json"))
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
    return Artifact(version, folder, files)


def _zip(target: Path, base: Path, folders: list[Path], suffixes: tuple[str, ...]) -> Path:
    paths = sorted(p for folder in folders for p in folder.rglob("*") if p.is_file() and p.suffix in suffixes
                   and "__pycache__" not in p.parts and p.relative_to(base).as_posix() not in EXCLUDED)  # fmt: skip
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in paths:
            info = zipfile.ZipInfo(path.relative_to(base).as_posix(), date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, path.read_bytes())
    return target


def main(argv: list[str] | None = None) -> int:
    from jobs.cli import OneLineParser

    parser = OneLineParser(prog="package", description="Build the EMR artifact under DIR/<version>/.")
    parser.add_argument("--out", default=str(ROOT / "dist"))
    args = parser.parse_args(argv)
    artifact = build(Path(args.out))
    for name, path in sorted(artifact.files.items()):
        print(f"{artifact.version}  {name:<24} {path.stat().st_size:>10,} B  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
