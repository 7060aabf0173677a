"""``edgeloop-tune``: the trials of a tuning study, and the best one as a settings proposal.

    edgeloop-tune show [--study NAME] [--storage URL]      # every trial, best first
    edgeloop-tune propose [--study NAME] [--db URL]         # the best trial -> a proposal
    edgeloop-tune proposals [--db URL]                      # the proposals and their state

``--storage`` defaults to the sweeper's (``hydra.sweeper.storage`` in
conf/hydra/sweeper/optuna.yaml, ``sqlite:///var/optuna.db``); ``--study`` to the only study
there (or the sweeper's default name). ``propose`` writes the best trial's parameters to the
settings database (``--db``, else ``$EDGELOOP_DB_URL``, else var/edgeloop.db) as a proposal
by ``tuner``: nothing changes until a human runs ``edgeloop-settings apply-proposal N``. With
``tune.holdout`` > 0 it first replays the best parameters over the whole span once and reports
the P&L of the holdout, which no trial was scored on. Exit codes: 0 done, 1 an error (no
storage, an unknown study, no completed trial), 2 the settings store refused the proposal,
4, 6, 7 the settings database (unavailable, not migrated, damaged).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import optuna
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from optuna.trial import FrozenTrial, TrialState
from sqlalchemy.engine import make_url

from engine import app
from engine.app import CONF_DIR
from engine.backtest import tuning
from settings_service.cli import open_store
from settings_service.dbcheck import DatabaseError, translated
from settings_service.resolve import hydra_layers
from settings_service.schema import SettingsError, SettingsValidationError
from settings_service.store import resolve_url

SWEEPER = OmegaConf.load(CONF_DIR / "hydra" / "sweeper" / "optuna.yaml")
AUTHOR = "tuner"
EXIT_ERROR, EXIT_REFUSED = 1, 2


class TuneError(Exception):
    """What edgeloop-tune says and exits 1 with."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edgeloop-tune",
        description="Walk-forward tuning studies (docs/backtest.md, 'Walk-forward tuning').",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    study = argparse.ArgumentParser(add_help=False)
    study.add_argument("--study", default=None, help="the study's name (default: the only one)")
    study.add_argument(
        "--storage", default=SWEEPER.storage, help=f"Optuna storage URL ({SWEEPER.storage})"
    )
    db = argparse.ArgumentParser(add_help=False)
    db.add_argument("--db", default=None, help="settings database (default: $EDGELOOP_DB_URL)")
    p = sub.add_parser("show", parents=[study], help="every trial, best objective first")
    p.add_argument("--json", action="store_true", help="JSON for machines")
    p = sub.add_parser("propose", parents=[study, db], help="the best trial as a proposal")
    p.add_argument("--reason", default=None, help="added to the proposal's own reason")
    sub.add_parser("proposals", parents=[db], help="the settings proposals, newest first")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        if args.command == "show":
            return show(args)
        url = resolve_url(args.db)
        with translated(url):
            return propose(args, url) if args.command == "propose" else proposals(url)
    except TuneError as exc:
        print(f"edgeloop-tune: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except DatabaseError as exc:
        print(f"edgeloop-tune: {exc}", file=sys.stderr)
        return exc.exit_code
    except SettingsValidationError as exc:
        print(f"edgeloop-tune: refused: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except SettingsError as exc:
        print(f"edgeloop-tune: error: {exc}", file=sys.stderr)
        return EXIT_ERROR


def load_study(storage: str, name: str | None) -> optuna.Study:
    """The study ``name`` in ``storage`` (None: the only one, else the sweeper's default)."""
    parsed = make_url(storage)
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").is_file():
        raise TuneError(
            f"no Optuna storage at {storage}: run a sweep first "
            "(edgeloop -m mode=backtest ... hydra/sweeper=optuna)"
        )
    names = optuna.get_all_study_names(storage=storage)
    if name is None:
        if len(names) == 1 or SWEEPER.study_name in names:
            name = names[0] if len(names) == 1 else SWEEPER.study_name
        elif not names:
            raise TuneError(f"{storage} holds no study yet")
        else:
            raise TuneError(f"{storage} holds {len(names)} studies: name one with --study "
                            f"({', '.join(sorted(names))})")  # fmt: skip
    if name not in names:
        known = ", ".join(sorted(names)) or "none"
        raise TuneError(f"no study {name!r} in {storage} (its studies: {known})")
    return optuna.load_study(study_name=name, storage=storage)


def ranked(study: optuna.Study) -> list[FrozenTrial]:
    """Completed trials best first, then the others by number."""
    sign = -1.0 if study.direction == optuna.study.StudyDirection.MAXIMIZE else 1.0
    done = [t for t in study.trials if t.state == TrialState.COMPLETE and t.value is not None]
    rest = [t for t in study.trials if t not in done]
    return sorted(done, key=lambda t: (sign * t.value, t.number)) + rest  # type: ignore[operator]


def show(args: argparse.Namespace) -> int:
    study = load_study(args.storage, args.study)
    trials = ranked(study)
    if args.json:
        rows = [
            {
                "number": t.number,
                "state": t.state.name,
                "objective": t.value,
                "params": t.params,
                **{k: v for k, v in t.user_attrs.items() if k != "overrides"},
            }
            for t in trials
        ]
        print(json.dumps({"study": study.study_name, "trials": rows}, indent=2, default=str))
        return 0
    print(f"study {study.study_name!r} in {args.storage}: {len(trials)} trials, "
          f"{study.direction.name.lower()} out-of-sample P&L after fees (USD)")  # fmt: skip
    folds = max((len(t.user_attrs.get("folds", [])) for t in trials), default=0)
    headers = ["trial", "state", "objective", "oos trades", "penalty", "params"]
    headers += [f"fold {i + 1}" + ("" if i else " (train)") for i in range(folds)]
    rows = []
    for t in trials:
        cells = [f"{f['trades']} / {f['pnl']:+.2f}" for f in t.user_attrs.get("folds", [])]
        rows.append([
            t.number,
            t.state.name.lower(),
            "-" if t.value is None else f"{t.value:+.2f}",
            t.user_attrs.get("oos_trades", "-"),
            t.user_attrs.get("penalty", "-"),
            " ".join(f"{k}={_num(v)}" for k, v in t.params.items()),
            *cells,
            *[""] * (folds - len(cells)),
        ])  # fmt: skip
    print(_table(headers, rows))
    print("fold cells: trades / P&L after fees; the objective is the sum of folds 2.., less the "
          "penalty for trades below tune.min_trades")  # fmt: skip
    return 0


def propose(args: argparse.Namespace, url: str) -> int:
    study = load_study(args.storage, args.study)
    done = [t for t in ranked(study) if t.state == TrialState.COMPLETE]
    if not done:
        raise TuneError(f"study {study.study_name!r} has no completed trial to propose")
    best = done[0]
    detail: dict[str, Any] = {
        "study": study.study_name,
        "storage": make_url(args.storage).render_as_string(hide_password=True),
        "trial": best.number,
        "objective": best.value,
        "trials_completed": len(done),
        **{k: v for k, v in best.user_attrs.items() if k != "overrides"},
    }
    reason = (
        f"tuning study {study.study_name!r}, best of {len(done)} trials (#{best.number}): "
        f"out-of-sample P&L {best.user_attrs.get('oos_pnl', 0):+.2f} USD over "
        f"{best.user_attrs.get('oos_trades', 0)} trades, objective {best.value:+.2f}"
    )
    if best.user_attrs.get("holdout", 0) > 0:
        detail["holdout_result"] = holdout(best)
        h = detail["holdout_result"]
        reason += f"; holdout (scored once, here): {h['trades']} trades {h['pnl']:+.2f} USD"
    if args.reason:
        reason += f"; {args.reason}"
    store = open_store(url, readonly=False, tables=("settings_versions", "settings_proposals"))
    try:
        defaults, _ = hydra_layers(CONF_DIR, store.schema.params)
        store.base = defaults
        proposal = store.propose(best.params, author=AUTHOR, reason=reason, detail=detail)
        current = store.current().document
    finally:
        store.close()
    print(f"proposal {proposal.id} by {AUTHOR} over settings version {proposal.based_on} "
          f"(NOT applied): {reason}")  # fmt: skip
    for key, value in proposal.changes.items():
        print(f"  {key}: {_num(current.get(key, defaults.get(key)))} -> {_num(value)}")
    print(f"a human applies it with `edgeloop-settings apply-proposal {proposal.id}`")
    return 0


def holdout(best: FrozenTrial) -> dict[str, Any]:
    """Replay the best trial's parameters over the whole span once; its holdout's numbers."""
    overrides = best.user_attrs.get("overrides")
    if not overrides:
        raise TuneError(f"trial {best.number} did not record its overrides: cannot replay it")
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[*overrides, "run.progress=false"])
    with contextlib.redirect_stdout(sys.stderr):  # the run's ledger: stdout is the proposal's
        run_id, score = tuning.evaluate_holdout(cfg, app.run)
    fold = score.folds[-1]
    return {"run_id": run_id, **fold.as_dict()}


def proposals(url: str) -> int:
    store = open_store(url, readonly=True, tables=("settings_versions", "settings_proposals"))
    try:
        latest = store.latest_id()
        rows = [
            [
                p.id,
                p.created_at.strftime("%Y-%m-%d %H:%M:%SZ"),
                p.author,
                _state(p.applied_version, p.based_on, latest),
                ", ".join(f"{k}={_num(v)}" for k, v in p.changes.items()),
                p.reason,
            ]
            for p in store.proposals()
        ]
    finally:
        store.close()
    print(_table(["proposal", "created_at", "author", "state", "changes", "reason"], rows))
    return 0


def _state(applied: int | None, based_on: int, latest: int) -> str:
    if applied is not None:
        return f"applied (v{applied})"
    return "proposed" if based_on == latest else f"stale (on v{based_on}, latest v{latest})"


def _num(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [headers] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
