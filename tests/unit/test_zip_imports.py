"""storage.zip_imports: a zip on sys.path is read again when it changed, and only then."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from storage import zip_imports


def _write_zip(path: Path, modules: dict[str, str]) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, source in modules.items():
            archive.writestr(f"{name}.py", source)


def test_an_unchanged_zip_is_not_read_again_and_a_changed_one_is(tmp_path: Path) -> None:
    zip_imports.install()  # (the packages install it on import; again is harmless)
    archive = tmp_path / "lib.zip"
    _write_zip(archive, {"zipmod_one": "VALUE = 1\n"})
    sys.path.insert(0, str(archive))
    try:
        assert importlib.import_module("zipmod_one").VALUE == 1
        importlib.invalidate_caches()  # reads the directory once: this archive was never stamped

        # changed (size and time differ): read again, the new module is found
        _write_zip(archive, {"zipmod_one": "VALUE = 1\n", "zipmod_two": "VALUE = 2\n"})
        importlib.invalidate_caches()
        assert importlib.import_module("zipmod_two").VALUE == 2

        # rewritten with the same size and modification time: taken as unchanged, the directory read before
        # (with zipmod_two, without zipmod_tri) stays
        stamp = archive.stat()
        _write_zip(archive, {"zipmod_one": "VALUE = 1\n", "zipmod_tri": "VALUE = 3\n"})
        os.utime(archive, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
        assert archive.stat().st_size == stamp.st_size
        importlib.invalidate_caches()
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module("zipmod_tri")

        # what Python 3.11 does on its own at every invalidation: read it again, and zipmod_tri is there
        zip_imports._ORIGINAL(sys.path_importer_cache[str(archive)])
        assert importlib.import_module("zipmod_tri").VALUE == 3
    finally:
        sys.path.remove(str(archive))
        sys.path_importer_cache.pop(str(archive), None)
        for name in ("zipmod_one", "zipmod_two", "zipmod_tri"):
            sys.modules.pop(name, None)


@pytest.mark.parametrize("package", ["readers", "loaders", "pipeline"])
def test_the_packages_whose_functions_run_in_the_workers_install_it(package: str) -> None:
    """A fresh interpreter, as a Python worker is: importing the package (which unpickling a task's function
    does) is enough."""
    code = f"import zipimport, {package}; print(zipimport.zipimporter.invalidate_caches.__module__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2]).stdout.strip()  # fmt: skip
    assert out == ("storage.zip_imports" if sys.version_info < (3, 12) else "zipimport")
