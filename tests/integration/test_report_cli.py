"""``edgeloop-report`` on a real ledger: a short paper run on the simulator, then the report."""

from __future__ import annotations

import re
import struct
import subprocess
from pathlib import Path

import pytest

from engine.ledger.db import make_engine, make_sessionmaker
from engine.ledger.queries import ledger
from engine.ledger.report_cli import SECTIONS, main
from engine.ledger.runs import FINISHED, end_run, start_run
from settings_service.dbcheck import EXIT_CONFIG, EXIT_DAMAGED
from tests.helpers import BIN, ROOT, run_edgeloop

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def ledger_url(tmp_path_factory) -> str:
    """Run 1: ten minutes of paper trading (two 5-minute windows resolve); run 2 ``empty``:
    a run that recorded nothing."""
    tmp = tmp_path_factory.mktemp("report")
    url = f"sqlite:///{tmp / 'edgeloop.db'}"
    done = run_edgeloop(
        "run.duration=10m", "run.speed=max", "seed=7", f"db.url={url}",
        env={"EDGELOOP_RUN_DIR": str(tmp / "hydra")},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    engine = make_engine(url)
    with make_sessionmaker(engine).begin() as session:
        run = start_run(
            session=session, name="empty", mode="paper", feed_identity={"kind": "sim", "seed": 8},
            fingerprint="0" * 12, config={}, settings_version=0,
        )  # fmt: skip
        end_run(session=session, run_id=run.id, status=FINISHED)
    engine.dispose()
    return url


def assert_valid_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, path
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk comes first
    assert data[12:16] == b"IHDR" and width > 100 and height > 50, path


def assert_complete_page(index: Path) -> str:
    page = index.read_text(encoding="utf-8")
    for section in SECTIONS:
        assert f'<section id="{section.id}"><h2>' in page
        assert section.heading.replace("&", "&amp;") in page
        assert f'<img src="{section.png}"' in page
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sorted(sources) == sorted(s.png for s in SECTIONS)  # nothing but the PNGs beside it
    for name in sources:
        assert_valid_png(index.parent / name)
    return page


def test_the_report_shows_every_section_and_the_ledgers_numbers(ledger_url, tmp_path):
    out = tmp_path / "run-1"
    done = subprocess.run(
        [str(BIN / "edgeloop-report"), "--run", "1", "--db", ledger_url, "--out", str(out)],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(out / "index.html")
    page = assert_complete_page(out / "index.html")
    engine = make_engine(ledger_url)
    with make_sessionmaker(engine)() as session:
        rows = ledger(session=session, runs=[1])
    engine.dispose()
    assert rows[-1].trades > 0, "the run must trade for this test to mean anything"
    assert f"verdict: {rows[-1].verdict}" in page
    for r in rows:
        assert f"<td>{r.strategy}</td><td>{r.trades}</td><td>{r.wins}</td>" in page
        assert f"<td>{r.pnl:+.2f}</td>" in page
    assert "Brier score of the fair value N(d2)" in page
    assert "no resolved trades" not in page


def test_a_run_without_trades_still_gets_its_report(ledger_url, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the default --out is relative: var/reports/run-<id>/
    assert main(["--run", "empty", "--db", ledger_url]) == 0
    index = Path("var/reports/run-2/index.html")
    assert capsys.readouterr().out.strip() == str(index)
    page = assert_complete_page(index)
    assert "verdict: no resolved trade yet" in page
    assert "no resolved trades in this run" in page


def test_an_unknown_run_is_one_line_naming_it_and_writes_nothing(ledger_url, tmp_path, capsys):
    assert main(["--run", "nope", "--db", ledger_url, "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "edgeloop-report: no run 'nope'" in err
    assert not (tmp_path / "r").exists()


def test_a_database_url_that_is_not_a_database(tmp_path, capsys):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a ledger\n" * 100)
    assert main(["--db", f"sqlite:///{notes}", "--out", str(tmp_path / "r")]) == EXIT_DAMAGED
    assert main(["--db", str(notes), "--out", str(tmp_path / "r")]) == EXIT_CONFIG  # a plain path
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all(line.startswith("edgeloop-report: database ") for line in err)
    assert "is not a database" in err[0] and "is not a database URL" in err[1]
    assert not (tmp_path / "r").exists()
