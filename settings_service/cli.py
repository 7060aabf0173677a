"""``edgeloop-settings``: show, change, audit and roll back the versioned settings.

    edgeloop-settings show
    edgeloop-settings set strategies.updown.gates.sigma.min_sigma=2.0 --reason "too many chop fills"
    edgeloop-settings history
    edgeloop-settings diff 1 3
    edgeloop-settings rollback 1 --reason "v2 lost money"
    edgeloop-settings apply-proposal 3             # a tuner's proposal (edgeloop-tune propose)
    edgeloop-settings explain strategies.updown.gates.sigma.min_sigma
    edgeloop-settings schema

Every command takes ``--db URL`` (else ``$EDGELOOP_DB_URL``, else
``sqlite:///var/edgeloop.db``) and ``--json``. Writes from here are a
human's, authored by the OS account that runs the command (``--author`` only
adds a label beside it; see :mod:`settings_service.identity`). ``set`` and ``rollback`` then wait (``--wait``, 3 s) for every running engine to
say whether it applied the version. Exit codes: 0 done, 1 error, 2 refused by validation
(or a bad ``--db`` URL), 3 conflict, 5 written but a running engine refused it (its protected
switches still apply), 4, 6 and 7 the database (unavailable, not migrated, damaged; ``--help``).
Commands that only read (show, history, diff, explain, schema) never create or write a file.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from settings_service.dbcheck import DatabaseError, exit_codes, open_checked, translated
from settings_service.identity import cli_author
from settings_service.models import Application, Version, engines_summary
from settings_service.resolve import default_conf_dir, hydra_layers, resolve
from settings_service.schema import (
    Problem,
    SettingsConflict,
    SettingsError,
    SettingsValidationError,
)
from settings_service.store import SettingsStore, make_engine, resolve_url

EXIT_ERROR, EXIT_REFUSED, EXIT_CONFLICT, EXIT_ENGINE_REFUSED = 1, 2, 3, 5
AUTHOR_HELP = (
    "a label recorded beside the OS account that runs the command, e.g. "
    "'root (via --author: alice)'; the author is always that account, as a human"
)
WAIT_S = 3.0  # how long set/rollback wait for the running engines' answers
READ_ONLY = {"show", "history", "diff", "explain", "schema"}  # these create and write nothing
TABLES = ("settings_versions", "settings_applications")
PROPOSALS = "settings_proposals"  # migration 0008: every command needs it (a database at head)


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    sup = argparse.SUPPRESS
    common.add_argument("--db", default=sup, help="database URL (default: $EDGELOOP_DB_URL)")
    common.add_argument("--json", action="store_true", default=sup, help="JSON for machines")
    common.add_argument("--conf", default=sup, help="Hydra config dir (default: ./conf)")
    common.add_argument(
        "-o",
        "--override",
        action="append",
        default=sup,
        metavar="KEY=VALUE",
        help="a run override (Hydra syntax) for the layers shown and checked",
    )
    return common


def _write_args(p: argparse.ArgumentParser) -> None:
    """What every command that writes a version takes."""
    p.add_argument("--reason", required=True)
    p.add_argument("--author", default=None, metavar="LABEL", help=AUTHOR_HELP)
    p.add_argument(
        "--expect", type=int, default=None, help="the version you read (default: latest)"
    )
    p.add_argument(
        "--wait",
        type=float,
        default=WAIT_S,
        metavar="S",
        help=f"seconds to wait for the running engines to apply or refuse it (default {WAIT_S:g}; 0: don't)",
    )


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(
        prog="edgeloop-settings",
        description="Versioned settings: Hydra defaults < run overrides < settings version.",
        epilog=exit_codes(
            (EXIT_ERROR, "error (an unknown version, a bad --conf)"),
            (EXIT_REFUSED, "refused by validation, nothing was written"),
            (EXIT_CONFLICT, "conflict: someone wrote first, nothing was written"),
            (EXIT_ENGINE_REFUSED, "written, but a running engine refused it"),
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("show", parents=[common], help="every setting, its value and its layer")
    p = sub.add_parser("set", parents=[common], help="write a new version: KEY=VALUE ...")
    p.add_argument("assignments", nargs="+", metavar="KEY=VALUE", help="VALUE null unsets")
    _write_args(p)
    p = sub.add_parser("history", parents=[common], help="versions, newest first")
    p.add_argument("--limit", type=int, default=None)
    p = sub.add_parser("diff", parents=[common], help="what changed from version A to B")
    p.add_argument("a", type=int)
    p.add_argument("b", type=int)
    p = sub.add_parser("rollback", parents=[common], help="a new version equal to version N")
    p.add_argument("version", type=int)
    _write_args(p)
    p = sub.add_parser(
        "apply-proposal",
        parents=[common],
        help="write a tuner's proposal N as the next version (refused if stale or applied)",
    )
    p.add_argument("proposal", type=int, metavar="N")
    p.add_argument("--reason", default=None, help="why (default: the proposal's own reason)")
    p.add_argument("--author", default=None, metavar="LABEL", help=AUTHOR_HELP)
    p.add_argument("--wait", type=float, default=WAIT_S, metavar="S", help="as for set")
    p = sub.add_parser("explain", parents=[common], help="which layer sets KEY, who and why")
    p.add_argument("key")
    sub.add_parser("schema", parents=[common], help="every tunable parameter and its rules")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    as_json = getattr(args, "json", False)
    url = resolve_url(getattr(args, "db", None))
    store = None
    try:
        # Every table of this code's schema (a database behind head says "migrate" at once).
        store = open_store(url, readonly=args.command in READ_ONLY, tables=(*TABLES, PROPOSALS))
        with translated(url):
            return COMMANDS[args.command](store, args, as_json)
    except DatabaseError as exc:
        return _fail(exc, "error", exc.exit_code, as_json)
    except SettingsValidationError as exc:
        return _fail(exc, "refused", EXIT_REFUSED, as_json, exc.problems)
    except SettingsConflict as exc:
        return _fail(exc, "conflict", EXIT_CONFLICT, as_json)
    except SettingsError as exc:
        return _fail(exc, "error", EXIT_ERROR, as_json)
    except SQLAlchemyError as exc:
        msg = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
        return _fail(msg, "error", EXIT_ERROR, as_json)
    finally:
        if store is not None:
            store.close()


def open_store(url: str, *, readonly: bool, tables: Sequence[str] = TABLES) -> SettingsStore:
    """The store on ``url`` once its database passed the start checks (see
    :func:`settings_service.dbcheck.open_checked`); ``readonly`` creates and writes nothing."""
    engine = open_checked(url, make=make_engine, readonly=readonly, tables=tables)
    return SettingsStore(url, engine=engine)


def _fail(
    exc: object, kind: str, code: int, as_json: bool, problems: Sequence[Problem] = ()
) -> int:
    print(f"edgeloop-settings: {kind}: {exc}", file=sys.stderr)
    if as_json:
        body: dict[str, Any] = {"error": kind, "message": str(exc)}
        if problems:
            body["problems"] = [{"key": p.key, "value": p.value, "rule": p.rule} for p in problems]
        _print_json(body)
    return code


# commands


def _layers(store: SettingsStore, args: argparse.Namespace) -> tuple[dict, dict]:
    conf = getattr(args, "conf", None)
    conf_dir = Path(conf) if conf else default_conf_dir()
    overrides = getattr(args, "override", None) or []
    if conf_dir is None:
        if overrides:
            raise SettingsError("--override needs the Hydra config (conf/ or --conf)")
        return {}, {}
    return hydra_layers(conf_dir, store.schema.params, overrides)


def cmd_show(store: SettingsStore, args: argparse.Namespace, as_json: bool) -> int:
    defaults, overrides = _layers(store, args)
    current, setters = store.setters()
    units = {p.key: p.unit for p in store.schema}
    resolved = resolve(
        [p.key for p in store.schema],
        defaults=defaults,
        overrides=overrides,
        document=current.document,
        setters=setters,
        units=units,
    )
    if as_json:
        _print_json(
            {
                "version": current.to_dict(),
                "settings": [{**r.to_dict(), "source": r.source} for r in resolved.values()],
            }
        )
        return 0
    print(_version_line(current))
    rows = [[r.key, _fmt(r.value), r.unit, r.source] for r in resolved.values()]
    print(_table(["key", "value", "unit", "set by"], rows))
    return 0


def cmd_set(store: SettingsStore, args: argparse.Namespace, as_json: bool) -> int:
    changes: dict[str, Any] = {}
    for item in args.assignments:
        key, eq, raw = item.partition("=")
        if not eq or not key:
            raise SettingsValidationError([Problem(item, None, "must be KEY=VALUE")])
        param = store.schema.params.get(key)
        changes[key] = param.parse(raw) if param else raw
    store.base = _merged_layers(store, args)
    expected = store.latest_id() if args.expect is None else args.expect
    version = store.write(
        changes,
        author=_author(args),
        author_kind="human",
        reason=args.reason,
        expected_version=expected,
    )
    return _print_written(store, version, args, as_json)


def cmd_rollback(store: SettingsStore, args: argparse.Namespace, as_json: bool) -> int:
    store.base = _merged_layers(store, args)
    version = store.rollback(
        args.version,
        author=_author(args),
        reason=args.reason,
        expected_version=args.expect,
    )
    return _print_written(store, version, args, as_json)


def cmd_apply_proposal(store: SettingsStore, args: argparse.Namespace, as_json: bool) -> int:
    """A tuner's proposal as the next version, by the human running this (never automatic)."""
    proposal = store.get_proposal(args.proposal)
    store.base = _merged_layers(store, args)
    version = store.apply_proposal(
        args.proposal,
        author=_author(args),
        reason=args.reason or f"proposal {proposal.id} by {proposal.author}: {proposal.reason}",
    )
    if not as_json:
        print(f"proposal {proposal.id} ({proposal.author}) applied as version {version.id}")
    return _print_written(store, version, args, as_json)


def cmd_history(store: SettingsStore, args: argparse.Namespace, as_json: bool) -> int:
    versions = store.history(args.limit)
    answers = store.applications(v.id for v in versions)
    if as_json:
        _print_json(
            [
                {**v.to_dict(), "engines": [a.to_dict() for a in answers.get(v.id, [])]}
                for v in versions
            ]
        )
        return 0
    rows = [
        [
            v.id,
            _when(v),
            v.author or "-",
            v.author_kind or "-",
            _changes(v.diff) + (f" (rollback to v{v.rollback_of})" if v.rollback_of else ""),
            v.reason,
            engines_summary(answers.get(v.id, [])),
        ]
        for v in versions
    ]
    headers = ["version", "created_at", "author", "kind", "changes", "reason", "engines"]
    print(_table(headers, rows))
    return 0


def cmd_diff(store: SettingsStore, args: argparse.Namespace, as_json: bool) -> int:
    diff = store.diff(args.a, args.b)
    if as_json:
        _print_json(diff)
        return 0
    if not diff:
        print(f"versions {args.a} and {args.b} hold the same overrides")
        return 0
    rows = [[k, _fmt(a), _fmt(b)] for k, (a, b) in diff.items()]
    print(_table(["key", f"v{args.a}", f"v{args.b}"], rows))
    return 0


def cmd_explain(store: SettingsStore, args: argparse.Namespace, as_json: bool) -> int:
    defaults, overrides = _layers(store, args)
    resolved = store.explain(args.key, defaults=defaults, overrides=overrides)
    if as_json:
        _print_json(resolved.to_dict())
    else:
        print(resolved)
    return 0


def cmd_schema(store: SettingsStore, args: argparse.Namespace, as_json: bool) -> int:
    if as_json:
        _print_json(store.schema.to_list())
        return 0
    rows = [
        [
            p.key,
            p.type.__name__,
            p.range_text,
            p.unit,
            ",".join(sorted(p.allowed)),
            "yes" if p.protected else "",
            p.description,
        ]
        for p in store.schema
    ]
    print(_table(["key", "type", "range", "unit", "writers", "protected", "description"], rows))
    return 0


COMMANDS = {
    "show": cmd_show,
    "set": cmd_set,
    "history": cmd_history,
    "diff": cmd_diff,
    "rollback": cmd_rollback,
    "apply-proposal": cmd_apply_proposal,
    "explain": cmd_explain,
    "schema": cmd_schema,
}


# helpers


def _merged_layers(store: SettingsStore, args: argparse.Namespace) -> dict[str, Any]:
    defaults, overrides = _layers(store, args)
    return {**defaults, **overrides}


def _author(args: argparse.Namespace) -> str:
    """The OS account running this command (never ``$USER`` or a flag: a write from here is
    always a human's), with ``--author`` as a label beside it."""
    return cli_author(args.author)


def _print_version(version: Version, as_json: bool) -> int:
    if as_json:
        _print_json(version.to_dict())
        return 0
    print(_version_line(version))
    if version.diff:
        rows = [[k, _fmt(a), _fmt(b)] for k, (a, b) in version.diff.items()]
        print(_table(["key", "was", "now"], rows))
    else:
        print("(no value changed)")
    return 0


def _print_written(
    store: SettingsStore, version: Version, args: argparse.Namespace, as_json: bool
) -> int:
    """The new version, then what every running engine did with it (``--wait`` seconds)."""
    running = store.running_engines() if args.wait > 0 else []
    answers = (
        store.wait_for_applications(version.id, runs=running, timeout_s=args.wait)
        if running
        else []
    )
    silent = sorted(set(running) - {a.run_id for a in answers})
    refused = [a for a in answers if a.status == "refused"]
    if as_json:
        _print_json(
            {
                **version.to_dict(),
                "engines": [a.to_dict() for a in answers],
                "silent_runs": silent,
            }
        )
    else:
        _print_version(version, as_json=False)
        for a in answers:
            print(f"engine {a.instance} (run {a.run_id}): {_answer(a)}")
        for run in silent:
            print(
                f"run {run} is marked running but did not answer within {args.wait:g} s "
                "(stopped without saying so, or between two ticks for longer)"
            )
        if not running and args.wait > 0:
            print("no running engine in this database: the next one to start applies it")
    if refused:
        print(
            f"edgeloop-settings: refused by {len(refused)} running engine(s): "
            + "; ".join(f"{a.instance}: {a.reason}" for a in refused),
            file=sys.stderr,
        )
        return EXIT_ENGINE_REFUSED
    return 0


def _answer(a: Application) -> str:
    if a.status == "applied":
        return "applied"
    switches = " ".join(f"{k}={_fmt(v)}" for k, v in a.protected.items())
    return f"REFUSED ({a.reason}); its protected switches applied: {switches}"


def _version_line(v: Version) -> str:
    if v.id == 0:
        return "settings version 0 (no overrides written yet)"
    return f"settings version {v.id} by {v.author} ({v.author_kind}) at {_when(v)}: {v.reason}"


def _when(v: Version) -> str:
    return v.created_at.strftime("%Y-%m-%d %H:%M:%SZ") if v.created_at else "-"


def _changes(diff: dict[str, list[Any]]) -> str:
    return ", ".join(f"{k}: {_fmt(old)} -> {_fmt(new)}" for k, (old, new) in diff.items()) or "-"


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [headers] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _print_json(body: Any) -> None:
    print(json.dumps(body, indent=2, default=str))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
