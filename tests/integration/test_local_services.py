"""The local services from a clone only root may enter: the postgres user cannot reach a data directory
inside it, so the server's files live where it can (bootstrap/local/services.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from bootstrap.local.services import free_port

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can make a folder the postgres user cannot enter")
def test_services_start_from_a_clone_in_a_folder_only_root_may_enter() -> None:
    private = Path(tempfile.mkdtemp(prefix="migration-root-only-"))  # mode 700, under a folder anyone may enter
    clone = private / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    env = {**os.environ, "PYTHONPATH": str(clone)}
    ports = ["--pg-port", str(free_port()), "--moto-port", str(free_port())]
    start = subprocess.run([sys.executable, "-m", "bootstrap.local.services", "start", "--dir", ".local", *ports],
                           cwd=clone, env=env, capture_output=True, text=True, timeout=180)  # fmt: skip
    try:
        assert start.returncode == 0, start.stderr[-3000:]
        notes = [line for line in start.stderr.splitlines() if line.startswith("postgres: the postgres user")]
        assert len(notes) == 1 and f"cannot enter {private}:" in notes[0], start.stderr
        home = Path(notes[0].rsplit(" ", 1)[-1])
        assert (home / "data" / "PG_VERSION").is_file() and not str(home).startswith(str(private))
        # the server answers on its port, as make run's job will reach it
        import psycopg

        port = ports[1]
        with psycopg.connect(f"host=127.0.0.1 port={port} dbname=migration user=migration "
                             "password=migration-local sslmode=disable") as conn:  # fmt: skip
            assert conn.execute("SELECT count(*) FROM reservations").fetchone() == (0,)
    finally:
        stop = subprocess.run([sys.executable, "-m", "bootstrap.local.services", "stop", "--dir", ".local", *ports],
                              cwd=clone, env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
        assert stop.returncode == 0, stop.stderr[-2000:]
    shutil.rmtree(home)
    shutil.rmtree(private)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can make a folder the postgres user cannot enter")
def test_a_link_planted_where_the_data_would_go_is_refused_and_nothing_is_chowned() -> None:
    from bootstrap.local.services import Postgres

    private = Path(tempfile.mkdtemp(prefix="migration-root-only-"))
    somebody = Path(tempfile.mkdtemp(prefix="somebodys-"))  # what a local user wants root to hand to postgres
    server = Postgres(private / "clone" / ".local" / "pg", free_port())
    assert str(server.home).startswith("/var/tmp/migration-pg-")
    os.symlink(somebody, server.home)  # planted first in the world-writable /var/tmp
    try:
        with pytest.raises(RuntimeError, match="is not a folder of root's or postgres's"):
            server.start()
        assert os.stat(somebody).st_uid == 0 and not list(somebody.iterdir())
    finally:
        os.unlink(server.home)
        shutil.rmtree(private)
        shutil.rmtree(somebody)
