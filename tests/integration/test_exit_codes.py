"""Bad arguments and bad config: exit 2 with one line naming the problem, no stack trace."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.migrate import main
from tests.integration.harness import fresh_targets, generate, run_migrate

ENV = {
    "MIGRATION_DATA_DIR": "/nonexistent",
    "MIGRATION_OUTPUT_ROOT": "/tmp/x",
    "MIGRATION_PG_PORT": "1",
    "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:1",
}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--env", "staging"], "migrate: error: --env: unknown environment 'staging'"),
        (
            ["--env", "local", "--set", "dynamodb.max_write_units=lots"],
            "migrate: error: dynamodb.max_write_units: Input should be a valid integer",
        ),
        (["--env", "local", "--set", "dynamodb.tabel=x"], "migrate: error: dynamodb.tabel: unknown key"),
        (["--env", "local", "--from", "2025-13-01"], "migrate: error: --from: expected YYYY-MM-DD"),
        (["--env", "local", "--from", "2025-02-01", "--to", "2025-01-01"], "migrate: error: --from: must not be after"),
        (["--env", "local", "--targets", "dynamodb,redshift"], "migrate: error: --targets: unknown target 'redshift'"),
        (["--env", "local", "--run-id", "../etc"], "migrate: error: --run-id: only letters"),
        (["--env", "local", "--bogus"], "migrate: error: unrecognized arguments: --bogus"),
        ([], "migrate: error: the following arguments are required: --env"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(argv, message, capsys, monkeypatch) -> None:
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    try:  # argparse's errors leave by SystemExit, ours by the return code: both must be 2
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(message), err
    assert "Traceback" not in err


def test_missing_input_and_missing_table_exit_2(moto, postgres, tmp_path: Path) -> None:
    targets = fresh_targets(moto, postgres, "e2e_exit2")
    missing = run_migrate(tmp_path / "nowhere", tmp_path, targets, run_id="missing")
    assert missing.code == 2, missing.stderr[-2000:]
    assert "input.properties.path: " in missing.stderr and "does not exist" in missing.stderr
    assert "Traceback" not in missing.stderr

    data = tmp_path / "data"
    generate(data, 50, 3)
    no_table = run_migrate(data, tmp_path, targets, "--set", "dynamodb.table=no_such_table", run_id="notable")
    assert no_table.code == 2
    assert "dynamodb.table: table 'no_such_table' does not exist" in no_table.stderr
    assert "Traceback" not in no_table.stderr
