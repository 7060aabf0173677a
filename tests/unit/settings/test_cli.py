"""edgeloop-settings on SQLite, in process: parsing, tables, --json, exit codes."""

from __future__ import annotations

import json

import pytest

from settings_service.cli import EXIT_CONFLICT, EXIT_REFUSED, build_parser, main
from settings_service.dbcheck import EXIT_SCHEMA

SIGMA = "strategies.updown.gates.sigma.min_sigma"
KELLY = "strategies.updown.sizers.kelly.kelly_fraction"


@pytest.fixture
def cli(sqlite_url, capsys, monkeypatch):
    monkeypatch.setenv("EDGELOOP_DB_URL", sqlite_url)
    # The CLI writes as the OS account (see tests/faults/test_who_may_write.py); call it alice.
    monkeypatch.setattr("settings_service.identity.os_user", lambda: "alice")

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_parser_accepts_options_before_or_after_the_command():
    parser = build_parser()
    args = parser.parse_args(["--json", "--db", "sqlite:///a.db", "history", "--limit", "2"])
    assert (args.json, args.db, args.limit) == (True, "sqlite:///a.db", 2)
    args = parser.parse_args(["set", "a=1", "b=2", "--reason", "r", "--json", "--expect", "3"])
    assert (args.assignments, args.reason, args.json, args.expect) == (["a=1", "b=2"], "r", True, 3)
    with pytest.raises(SystemExit):
        parser.parse_args(["set", "a=1"])  # --reason is required


def test_set_show_history_diff_rollback_explain(cli):
    code, out, _ = cli("set", f"{SIGMA}=2.0", f"{KELLY}=0.2", "--reason", "tighten")
    assert code == 0 and "settings version 1 by alice (human)" in out and "tighten" in out
    code, out, _ = cli("set", f"{SIGMA}=2.5", "--reason", "more")
    assert code == 0
    code, out, _ = cli("show")
    assert code == 0
    line = next(x for x in out.splitlines() if x.startswith(SIGMA))
    assert "2.5" in line and "v2 alice (human)" in line
    line = next(x for x in out.splitlines() if x.startswith("venue.slippage_ticks"))
    assert "hydra defaults" in line
    code, out, _ = cli("history")
    assert code == 0 and out.splitlines()[0].split()[:3] == ["version", "created_at", "author"]
    assert f"{SIGMA}: 2.0 -> 2.5" in out
    code, out, _ = cli("diff", "0", "2", "--json")
    assert json.loads(out) == {KELLY: [None, 0.2], SIGMA: [None, 2.5]}
    code, out, _ = cli("rollback", "1", "--reason", "undo", "--json")
    body = json.loads(out)
    assert code == 0 and body["id"] == 3 and body["rollback_of"] == 1
    assert body["document"] == {KELLY: 0.2, SIGMA: 2.0}
    code, out, _ = cli("explain", SIGMA)
    assert code == 0 and "rollback to v1" in out and "why: undo" in out and "hydra defaults" in out
    code, out, _ = cli("explain", SIGMA, "--json", "-o", f"{SIGMA}=1.8")
    body = json.loads(out)
    assert body["layers"] == {"hydra defaults": 1.5, "run overrides": 1.8, "settings version": 2.0}


def test_show_json_lists_every_param_with_its_layer(cli):
    cli("set", "kill_switch=true", "--reason", "stop")
    code, out, _ = cli("show", "--json")
    body = json.loads(out)
    rows = {r["key"]: r for r in body["settings"]}
    assert body["version"]["id"] == 1
    assert (
        rows["kill_switch"]["value"] is True and rows["kill_switch"]["layer"] == "settings version"
    )
    assert rows["run.bankroll"]["layer"] == "hydra defaults"


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        (f"{SIGMA}=11", f"{SIGMA}=11.0 must be in [0, 10]"),
        (f"{SIGMA}=abc", f"{SIGMA}='abc' must be a number"),
        ("no.such=1", "no.such='1' is not a known setting"),
        ("kill_switch=maybe", "kill_switch='maybe' must be a bool"),
        (
            "strategies.updown.gates.dead_zone.low=0.6",
            "must be <= strategies.updown.gates.dead_zone.high=0.58",
        ),
        ("novalue", "novalue=None must be KEY=VALUE"),
    ],
)
def test_a_refused_write_exits_2_with_the_message_and_writes_nothing(cli, assignment, message):
    code, out, err = cli("set", assignment, "--reason", "r")
    assert code == EXIT_REFUSED and message in err and out == ""
    assert json.loads(cli("history", "--json")[1])[0]["id"] == 0


def test_refusal_json_lists_the_problems(cli):
    code, out, _ = cli("set", f"{SIGMA}=-1", "--reason", "r", "--json")
    body = json.loads(out)
    assert code == EXIT_REFUSED and body["error"] == "refused"
    assert body["problems"] == [{"key": SIGMA, "value": -1.0, "rule": "must be in [0, 10]"}]


def test_a_stale_expected_version_exits_3(cli):
    cli("set", f"{SIGMA}=2.0", "--reason", "r")
    code, _, err = cli("set", f"{SIGMA}=3.0", "--reason", "r", "--expect", "0")
    assert code == EXIT_CONFLICT and "expected version 0 but the latest is 1" in err


def test_unknown_version_and_schema(cli):
    code, _, err = cli("diff", "0", "5")
    assert code == 1 and "unknown settings version 5" in err
    code, out, _ = cli("schema")
    assert code == 0 and "mode.name" in out and "one of paper" in out
    body = json.loads(cli("schema", "--json")[1])
    assert {p["key"]: p["writers"] for p in body}["kill_switch"] == ["human"]


def test_an_unmigrated_database_says_so(tmp_path, capsys):
    (tmp_path / "empty.db").touch()
    code = main(["--db", f"sqlite:///{tmp_path}/empty.db", "history"])
    assert code == EXIT_SCHEMA and "alembic upgrade head" in capsys.readouterr().err
