"""python -m jobs.jars: build the job's JVM functions (``jvm/src/main/java``) into ``build/jars/migration-udfs.jar``.

One small jar: the per-value AES-GCM seal of guest fields (``migration.pii.Seal``; see
:mod:`transforms.pii`). It is compiled against the Spark that PySpark ships (the same 3.5 as EMR 7), for
Java 17. Local sessions (``jobs.cli.build_session`` with a master, the tests, the benchmarks) build it on
first use and put it in ``spark.jars``; on EMR the artifact carries it (``jobs.package``) and the step
passes ``--jars``. The jar records the SHA-256 of its sources and is rebuilt when they change; its bytes
are the same for the same sources and compiler (fixed zip timestamps).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "jvm" / "src" / "main" / "java"
JAR_NAME = "migration-udfs.jar"
BUILT = ROOT / "build" / "jars" / JAR_NAME
_STAMP = "META-INF/migration-sources.sha256"
_ZIP_TIME = (2020, 1, 1, 0, 0, 0)


class JarBuildError(RuntimeError):
    """No JDK, or the sources do not compile: one line for the operator."""


def sources_digest(sources: Path = SOURCES) -> str:
    digest = hashlib.sha256()
    for path in sorted(sources.rglob("*.java")):
        digest.update(path.relative_to(sources).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def udf_jar(target: Path = BUILT, *, sources: Path = SOURCES) -> Path:
    """The jar at ``target``, (re)built when missing or older than the sources; a copy of ``build/jars/``'s
    when that one was built from the same sources (an artifact's jar, ``jobs.package``: no second compile)."""
    wanted = sources_digest(sources)
    if _stamp(target) == wanted:
        return target
    if target.resolve() != BUILT.resolve() and _stamp(BUILT) == wanted:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        shutil.copyfile(BUILT, partial)
        partial.replace(target)
        return target
    return _build(target, sources, wanted)


def _stamp(jar: Path) -> str | None:
    """The digest of the sources ``jar`` was built from (None: no such jar, or not one of ours)."""
    if not jar.is_file():
        return None
    try:
        with zipfile.ZipFile(jar) as zf:
            return zf.read(_STAMP).decode()
    except (KeyError, zipfile.BadZipFile):
        return None


def _build(target: Path, sources: Path, digest: str) -> Path:
    javac = shutil.which("javac") or (
        str(Path(os.environ["JAVA_HOME"]) / "bin" / "javac") if os.environ.get("JAVA_HOME") else None
    )
    if not javac or not Path(javac).is_file():
        raise JarBuildError("javac not found: the job's JVM functions need a JDK 17 (openjdk-17-jdk-headless)")
    import pyspark

    classpath = str(Path(pyspark.__file__).parent / "jars" / "*")
    files = sorted(str(p) for p in sources.rglob("*.java"))
    with tempfile.TemporaryDirectory(prefix="migration-jar-") as tmp:
        classes = Path(tmp) / "classes"
        done = subprocess.run(
            [javac, "--release", "17", "-nowarn", "-cp", classpath, "-d", str(classes), *files],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            first = next((line for line in done.stderr.splitlines() if line.strip()), "javac failed")
            raise JarBuildError(f"jvm sources do not compile: {first}")
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            _add(zf, "META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\r\nCreated-By: jobs.jars\r\n\r\n")
            _add(zf, _STAMP, digest.encode())
            for path in sorted(p for p in classes.rglob("*.class")):
                _add(zf, path.relative_to(classes).as_posix(), path.read_bytes())
        partial.replace(target)  # concurrent builders (test workers) never see half a jar
    return target


def _add(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    zf.writestr(info, data)


def main(argv: list[str] | None = None) -> int:
    from jobs.cli import OneLineParser

    parser = OneLineParser(prog="jars", description="Build the job's JVM functions.")
    parser.add_argument("--out", default=str(BUILT))
    args = parser.parse_args(argv)
    try:
        path = udf_jar(Path(args.out))
    except JarBuildError as exc:
        print(f"jars: error: {exc}", file=sys.stderr)
        return 2
    print(f"{path}  {path.stat().st_size:,} B")
    return 0


if __name__ == "__main__":
    sys.exit(main())
