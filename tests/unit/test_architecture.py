"""The dependency rules of DESIGN.md, checked by import-linter on every test run."""

from __future__ import annotations

import subprocess

from tests.helpers import BIN, ROOT


def test_import_contracts_hold():
    done = subprocess.run([str(BIN / "lint-imports")], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Contracts: 4 kept, 0 broken" in done.stdout


def test_dockerfile_runs_the_console_script_the_tests_run():
    text = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["edgeloop"]' in text
    for path in (
        "pyproject.toml",
        "constraints.txt",
        "alembic.ini",
        "engine",
        "conf",
        "migrations",
        "settings_service",
        "ui",
    ):
        assert f"COPY {path}" in text or f" {path} " in text.split("COPY", 1)[1]
        assert (ROOT / path).exists(), path
    assert (BIN / "edgeloop").exists()
