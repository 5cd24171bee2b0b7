"""The job's jar elsewhere (an artifact's folder): copied from build/jars/ when built from the same sources,
compiled when not."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from jobs import jars


def _no_javac(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jars.shutil, "which", lambda name: None)
    monkeypatch.delenv("JAVA_HOME", raising=False)


def test_a_jar_of_the_same_sources_elsewhere_is_the_built_one_copied(tmp_path: Path, monkeypatch) -> None:
    built = jars.udf_jar()  # build/jars/, compiled here if need be
    sources = tmp_path / "java"
    shutil.copytree(jars.SOURCES, sources)  # the same files under another root, as jobs.package passes them
    _no_javac(monkeypatch)  # a compile would fail now

    jar = jars.udf_jar(tmp_path / "dist" / jars.JAR_NAME, sources=sources)

    assert jar == tmp_path / "dist" / jars.JAR_NAME
    assert jar.read_bytes() == built.read_bytes()


def test_a_jar_of_other_sources_is_compiled_not_copied(tmp_path: Path, monkeypatch) -> None:
    jars.udf_jar()
    sources = tmp_path / "java"
    shutil.copytree(jars.SOURCES, sources)
    first = sorted(sources.rglob("*.java"))[0]
    first.write_text(first.read_text() + "\n// changed\n")
    _no_javac(monkeypatch)

    with pytest.raises(jars.JarBuildError, match="javac not found"):
        jars.udf_jar(tmp_path / "dist" / jars.JAR_NAME, sources=sources)
    assert not (tmp_path / "dist" / jars.JAR_NAME).exists()
