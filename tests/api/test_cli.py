"""The `amflow` command: in-process through click's CliRunner, and once as the installed console script."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from service import create_app, get_database
from service.cli import cli

TOKEN = re.compile(r"^[A-Za-z0-9_\-.~+/=]{20,}$")
BAD_BPMN = b"<?xml version='1.0'?><definitions>not a process</definitions>"


@pytest.fixture
def environment(tmp_path, make_database_url):
    """AMFLOW_* variables of a fresh, empty database."""
    return {
        "AMFLOW_DATABASE_URL": make_database_url("cli"),
        "AMFLOW_INSTANCE_PATH": str(tmp_path / "instance"),
        "AMFLOW_SECRET_KEY": "cli-test-secret-key-0123456789",
    }


@pytest.fixture
def amflow(environment):
    """Run `amflow ARGS...` in-process against the fresh database."""
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(cli, list(args), env=environment, catch_exceptions=False)

    return run


@pytest.fixture
def upgraded(amflow):
    result = amflow("db", "upgrade")
    assert result.exit_code == 0, result.output


def _user_for(environment, token):
    app = create_app(
        {
            "DATABASE_URL": environment["AMFLOW_DATABASE_URL"],
            "TESTING": True,
            "INSTANCE_PATH": environment["AMFLOW_INSTANCE_PATH"],
            "SECRET_KEY": "x" * 32,
        }
    )
    try:
        return app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    finally:
        get_database(app).dispose()


def test_user_add_then_token_create_prints_only_a_token_that_works_against_the_api(amflow, environment, upgraded):
    added = amflow(
        "user",
        "add",
        "alice",
        "--password",
        "correct-horse",
        "--group",
        "amk",
        "--group",
        "employees",
        "--unit",
        "kemi",
        "--name",
        "Alice A",
        "--email",
        "alice@example.dtu.dk",
    )
    assert added.exit_code == 0, added.output

    created = amflow("token", "create", "alice")

    assert created.exit_code == 0, created.output
    token = created.stdout.strip()
    assert created.stdout == token + "\n"
    assert TOKEN.match(token)
    me = _user_for(environment, token)
    assert me.status_code == 200
    assert me.get_json()["username"] == "alice"
    assert sorted(me.get_json()["groups"]) == ["amk", "employees"]
    assert me.get_json()["name"] == "Alice A"


def test_token_create_for_an_unknown_user_fails_with_a_message(amflow, upgraded):
    result = amflow("token", "create", "nobody")

    assert result.exit_code != 0
    assert result.stdout == ""
    assert "nobody" in result.stderr


def test_user_add_with_an_unknown_group_fails_naming_it(amflow, upgraded):
    result = amflow("user", "add", "bob", "--password", "correct-horse", "--group", "wizards")

    assert result.exit_code != 0
    assert "wizards" in result.stderr


def test_deploy_prints_the_process_key_and_version_of_each_file(amflow, upgraded, bpmn_dir, tmp_path):
    original = bpmn_dir / "free_note_process.bpmn"
    changed = tmp_path / "free_note_process.bpmn"
    changed.write_text(original.read_text().replace("Write a note", "Write a short note"))

    first = amflow("deploy", str(original))
    again = amflow("deploy", str(original))
    second = amflow("deploy", str(changed))

    assert first.exit_code == 0, first.output
    assert "free_note_process version 1" in first.stdout
    assert "free_note_process version 1" in again.stdout  # an unchanged file is no new version
    assert "free_note_process version 2" in second.stdout


def test_deploy_of_an_invalid_file_exits_non_zero_naming_the_file(amflow, upgraded, tmp_path, bpmn_dir):
    bad = tmp_path / "broken.bpmn"
    bad.write_bytes(BAD_BPMN)

    result = amflow("deploy", str(bad), str(bpmn_dir / "free_note_process.bpmn"))

    assert result.exit_code != 0
    assert "broken.bpmn" in result.stderr
    assert "free_note_process version 1" in result.stdout


def test_deploy_of_a_missing_file_exits_non_zero(amflow, upgraded, tmp_path):
    result = amflow("deploy", str(tmp_path / "missing.bpmn"))

    assert result.exit_code != 0
    assert "missing.bpmn" in result.stderr


def test_demo_prints_each_demo_user_and_can_run_twice(amflow):
    first = amflow("demo")
    second = amflow("demo")

    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    lines = first.stdout.strip().splitlines()
    assert lines == second.stdout.strip().splitlines()
    username, password, groups, units = lines[0].split("\t")
    assert username and password.startswith("password=")
    assert groups.startswith("groups=") and units.startswith("units=")


def test_a_bad_setting_is_a_clear_error_not_a_traceback(amflow, environment):
    environment["AMFLOW_DATABASE_URL"] = "no database at all"

    result = amflow("db", "upgrade")

    assert result.exit_code != 0
    assert "AMFLOW_DATABASE_URL" in result.stderr


def _console_script() -> Path:
    script = Path(sys.executable).parent / "amflow"
    if not script.exists():
        pytest.fail(f"{script} is missing: install the project with `pip install -e '.[test]'`")
    return script


@pytest.mark.slow
def test_the_installed_amflow_command_adds_a_user_prints_a_working_token_and_rejects_a_bad_file(environment, tmp_path):
    amflow = _console_script()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: PLW1510 — each caller checks returncode itself
            [str(amflow), *args],
            env={"PATH": "/usr/bin:/bin", **environment},
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert run("db", "upgrade").returncode == 0
    added = run("user", "add", "carol", "--password", "correct-horse", "--group", "leaders", "--unit", "energi")
    assert added.returncode == 0, added.stderr
    created = run("token", "create", "carol")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert created.stdout == token + "\n"
    assert _user_for(environment, token).get_json()["username"] == "carol"
    bad = tmp_path / "bad.bpmn"
    bad.write_bytes(BAD_BPMN)
    deployed = run("deploy", str(bad))
    assert deployed.returncode != 0
    assert "bad.bpmn" in deployed.stderr


def test_token_revoke_ends_one_token_or_all_of_a_users_tokens(amflow, environment, upgraded):
    for name in ("alice", "bob"):
        assert amflow("user", "add", name, "--password", "correct-horse").exit_code == 0
    first, second, third = (amflow("token", "create", "alice").stdout.strip() for _ in range(3))
    bobs = amflow("token", "create", "bob").stdout.strip()
    ids = [int(line.split("\t")[0]) for line in amflow("token", "list", "alice").stdout.splitlines()]
    assert len(ids) == 3
    bobs_id = int(amflow("token", "list", "bob").stdout.split("\t")[0])

    assert amflow("token", "revoke", "alice", str(bobs_id)).exit_code != 0  # not alice's token
    assert amflow("token", "revoke", "alice").exit_code != 0  # neither an id nor --all
    assert amflow("token", "revoke", "alice", str(ids[0]), "--all").exit_code != 0  # both
    revoked = amflow("token", "revoke", "alice", str(ids[0]))

    assert revoked.exit_code == 0, revoked.output
    assert _user_for(environment, first).status_code == 401
    assert _user_for(environment, second).status_code == 200

    assert amflow("token", "revoke", "alice", "--all").exit_code == 0
    assert _user_for(environment, second).status_code == 401
    assert _user_for(environment, third).status_code == 401
    assert _user_for(environment, bobs).status_code == 200


# --- import-spiffarena and group add (issue #18) ------------------------------------------------------------

SPIFFARENA_MODEL = Path(__file__).parents[1] / "processes" / "spiffarena" / "ohs-incident"


def test_a_spiffarena_folder_imports_once_its_lane_group_exists(amflow, upgraded, tmp_path):
    refused = amflow("import-spiffarena", str(SPIFFARENA_MODEL))
    assert refused.exit_code == 1
    assert "lane name 'case_handlers' is not a known group" in refused.output
    assert "Traceback" not in refused.output

    added = amflow("group", "add", "case_handlers", "--name", "Case handlers")
    assert added.exit_code == 0, added.output
    assert "group case_handlers (Case handlers)" in added.output
    imported = amflow("import-spiffarena", str(SPIFFARENA_MODEL))
    assert imported.exit_code == 0, imported.output
    assert "ohs_incident version 1" in imported.output


def test_a_spiffarena_lane_may_be_mapped_to_an_existing_group(amflow, upgraded):
    imported = amflow("import-spiffarena", str(SPIFFARENA_MODEL), "--map-lane", "case_handlers=amk")
    assert imported.exit_code == 0, imported.output
    assert "ohs_incident version 1" in imported.output
    assert amflow("import-spiffarena", str(SPIFFARENA_MODEL), "--map-lane", "case_handlers").exit_code == 2


def test_a_broken_spiffarena_folder_prints_one_error_line_per_problem(amflow, upgraded, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(SPIFFARENA_MODEL, folder)
    (folder / "review-schema.json").unlink()
    (folder / "report-schema.json").write_text('{"type": "object", ')
    result = amflow("import-spiffarena", str(folder))
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 3, result.output
    assert any("review-schema.json is missing" in line for line in errors)
    assert any("report-schema.json: not JSON" in line for line in errors)
    assert any("'case_handlers' is not a known group" in line for line in errors)
    assert "Traceback" not in result.output


def test_deploy_prints_every_problem_of_a_file_as_its_own_error_line(amflow, upgraded, tmp_path):
    bpmn = (SPIFFARENA_MODEL / "ohs-incident.bpmn").read_text().replace(
        'name="Process Initiator"', 'name="janitors"')
    path = tmp_path / "two-problems.bpmn"
    path.write_text(bpmn)
    result = amflow("deploy", str(path))
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert any("'janitors' is not a known group" in line for line in errors), result.output
    assert any("'case_handlers' is not a known group" in line for line in errors), result.output
    assert "Traceback" not in result.output


def test_export_writes_the_deployed_newest_versions_back_to_files(amflow, upgraded, tmp_path):
    assert amflow("import-spiffarena", str(SPIFFARENA_MODEL), "--map-lane", "case_handlers=amk").exit_code == 0

    exported = amflow("export", str(tmp_path / "out"))

    assert exported.exit_code == 0, exported.output
    bpmn = next((tmp_path / "out").glob("*.bpmn"))
    assert "ohs_incident" in bpmn.read_text()
    assert (tmp_path / "out" / "forms" / "report.schema.json").is_file()
