"""Walk-forward tuning through the real commands: ``edgeloop -m ... hydra/sweeper=optuna``,
``edgeloop-tune show|propose`` and ``edgeloop-settings apply-proposal``.

One small synthetic corpus (1 h, planted edge); a study of 3 trials by the basic launcher and
2 more by a second process with the joblib launcher, in one SQLite Optuna storage; the
proposal is a tuner's until a human applies it.
"""

from __future__ import annotations

import json
import math
import os
import subprocess

import optuna
import pytest
from optuna.trial import TrialState

from engine.adapters.corpus.synthetic import SyntheticCorpus
from settings_service import SettingsStore
from tests.helpers import BIN, ROOT, pnl_from_fills_and_outcomes, query

pytestmark = pytest.mark.slow

PARAM = "strategies.updown.gates.sigma.min_sigma"
STUDY = "wf"
HOLDOUT = 0.25  # the corpus's last 15 minutes: replayed by no trial


def cli(name: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "EDGELOOP_DB_URL"}
    return subprocess.run(
        [str(BIN / name), *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
        env=env,
    )  # fmt: skip


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """The corpus, the ledger and the study: 3 trials, then 2 by another process."""
    root = tmp_path_factory.mktemp("tuning")
    SyntheticCorpus(hours=1.0, edge_share=0.4, seed=31).write(root / "corpus")
    db, storage = f"sqlite:///{root / 'edgeloop.db'}", f"sqlite:///{root / 'optuna.db'}"

    def sweep(trials: int, *extra: str) -> subprocess.CompletedProcess:
        return cli(
            "edgeloop", "-m", "mode=backtest", f"backtest.corpus={root / 'corpus'}",
            f"db.url={db}", "run.progress=false", f"tune.holdout={HOLDOUT}", "tune.min_trades=4",
            "hydra/sweeper=optuna", f"hydra.sweeper.n_trials={trials}",
            f"hydra.sweeper.storage={storage}", f"hydra.sweeper.study_name={STUDY}",
            f"hydra.sweep.dir={root / 'multirun'}", f"{PARAM}=interval(1.0,3.0)", *extra,
        )  # fmt: skip

    first = sweep(3, "hydra.sweeper.sampler.seed=31")
    assert first.returncode == 0, first.stderr[-3000:]
    second = sweep(2, "hydra/launcher=joblib_local", "hydra.sweeper.n_jobs=2")
    assert second.returncode == 0, second.stderr[-3000:]
    return {"root": root, "db": db, "storage": storage, "log": first.stdout + second.stdout}


def load(study) -> optuna.Study:
    return optuna.load_study(study_name=STUDY, storage=study["storage"])


def test_each_trial_is_scored_on_its_out_of_sample_folds(study):
    trials = load(study).trials
    assert len(trials) == 5  # two processes, one study
    assert all(t.state == TrialState.COMPLETE for t in trials)
    for t in trials:
        assert math.isfinite(t.value) and 1.0 <= t.params[PARAM] <= 3.0
        folds = t.user_attrs["folds"]
        assert [(f["index"], f["scored"]) for f in folds] == [(1, False), (2, True), (3, True)]
        scored = [f for f in folds if f["scored"]]
        assert t.user_attrs["oos_trades"] == sum(f["trades"] for f in scored)
        assert t.user_attrs["oos_pnl"] == pytest.approx(sum(f["pnl"] for f in scored), abs=1e-5)
        missing = max(0, 4 - t.user_attrs["oos_trades"])
        assert t.user_attrs["penalty"] == pytest.approx(missing * 1.0)
        assert t.value == pytest.approx(t.user_attrs["oos_pnl"] - t.user_attrs["penalty"], abs=1e-5)
        # The folds hold exactly the run's resolved trades (the ledger's own count and P&L).
        run = t.user_attrs["run_id"]
        trades, _, pnl, _ = pnl_from_fills_and_outcomes(study["db"], run)
        assert sum(f["trades"] for f in folds) == trades
        assert sum(f["pnl"] for f in folds) == pytest.approx(pnl, abs=1e-4)
        # No trial replays the holdout: each stops at the last second before it.
        assert folds[-1]["end"] == "2026-05-04T00:45:01Z"
        last = query(study["db"], f"SELECT last_ts FROM runs WHERE id = {run}")[0][0]
        assert str(last).startswith("2026-05-04 00:45:00")
    assert sum(t.user_attrs["oos_trades"] for t in trials) > 0, "the corpus must trade"
    assert "best trial" in study["log"]


def test_show_lists_the_trials_best_first(study):
    shown = cli("edgeloop-tune", "show", "--storage", study["storage"])
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].startswith(f"study '{STUDY}'") and "5 trials" in lines[0]
    assert "fold 1 (train)" in lines[1] and "fold 3" in lines[1]
    rows = lines[3:8]
    values = [float(r.split()[2]) for r in rows]
    assert values == sorted(values, reverse=True)
    best = load(study).best_trial
    assert rows[0].split()[0] == str(best.number) and f"{PARAM}=" in rows[0]


def test_bad_studies_and_storages_are_named(study):
    unknown = cli("edgeloop-tune", "show", "--storage", study["storage"], "--study", "nope")
    assert unknown.returncode == 1
    assert f"no study 'nope' in {study['storage']} (its studies: {STUDY})" in unknown.stderr
    missing = f"sqlite:///{study['root'] / 'none.db'}"
    absent = cli("edgeloop-tune", "show", "--storage", missing)
    assert absent.returncode == 1 and "no Optuna storage at" in absent.stderr
    assert not (study["root"] / "none.db").exists()
    nope = cli("edgeloop-tune", "propose", "--storage", study["storage"], "--study", "nope",
               "--db", study["db"])  # fmt: skip
    assert nope.returncode == 1 and "no study 'nope'" in nope.stderr


def test_the_best_trial_becomes_a_proposal_that_only_a_human_applies(study):
    db, best = study["db"], load(study).best_trial
    proposed = cli("edgeloop-tune", "propose", "--storage", study["storage"], "--db", db)
    assert proposed.returncode == 0, proposed.stderr[-3000:]
    assert "proposal 1 by tuner over settings version 0 (NOT applied)" in proposed.stdout
    assert "holdout (scored once, here):" in proposed.stdout
    assert "edgeloop-settings apply-proposal 1" in proposed.stdout
    # Written, not applied: no settings version yet.
    assert query(db, "SELECT count(*) FROM settings_versions") == [(0,)]
    row = query(db, "SELECT author, author_kind, based_on, applied_version FROM settings_proposals")
    assert row == [("tuner", "tuner", 0, None)]
    detail = load_detail(db)
    assert detail["trial"] == best.number and detail["study"] == STUDY
    holdout = detail["holdout_result"]
    assert (holdout["index"], holdout["start"]) == (0, "2026-05-04T00:45:01Z")
    last = query(db, f"SELECT last_ts FROM runs WHERE id = {holdout['run_id']}")[0][0]
    assert str(last).startswith("2026-05-04 01:00:00")  # the holdout run replays it all

    applied = cli("edgeloop-settings", "apply-proposal", "1", "--db", db, "--wait", "0")
    assert applied.returncode == 0, applied.stderr
    assert "proposal 1 (tuner) applied as version 1" in applied.stdout
    version = query(db, "SELECT author_kind, reason FROM settings_versions")
    assert version[0][0] == "human" and version[0][1].startswith("proposal 1 by tuner")
    assert query(db, "SELECT applied_version FROM settings_proposals") == [(1,)]
    shown = cli("edgeloop-settings", "show", "--db", db)
    assert any(line.startswith(PARAM) and "v1" in line for line in shown.stdout.splitlines())

    again = cli("edgeloop-settings", "apply-proposal", "1", "--db", db, "--wait", "0")
    assert again.returncode == 2
    assert "proposal=1 was applied already, as version 1" in again.stderr
    unknown = cli("edgeloop-settings", "apply-proposal", "9", "--db", db)
    assert unknown.returncode == 1 and "unknown proposal 9 (proposals are 1..1)" in unknown.stderr


def test_a_proposal_made_before_a_newer_version_is_stale(study):
    db = study["db"]
    with SettingsStore(db) as store:  # a proposal as edgeloop-tune writes it (tested above)
        number = str(store.propose({PARAM: 2.0}, author="tuner", reason="a trial").id)
    kelly = "strategies.updown.sizers.kelly.kelly_fraction=0.1"
    changed = cli("edgeloop-settings", "set", kelly, "--reason", "smaller", "--db", db,
                  "--wait", "0")  # fmt: skip
    assert changed.returncode == 0, changed.stderr
    stale = cli("edgeloop-settings", "apply-proposal", number, "--db", db, "--wait", "0")
    assert stale.returncode == 3
    assert f"proposal {number} is stale: it was made on version" in stale.stderr
    listed = cli("edgeloop-tune", "proposals", "--db", db)
    assert listed.returncode == 0 and "stale (on v" in listed.stdout


def load_detail(db: str) -> dict:
    raw = query(db, "SELECT detail FROM settings_proposals ORDER BY id LIMIT 1")[0][0]
    return raw if isinstance(raw, dict) else json.loads(raw)
