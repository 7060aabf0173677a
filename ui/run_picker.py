"""The run selector in the sidebar of every page, and the runs the pages read.

``ui/app.py`` renders it before the page; a page reads its choice with
:func:`selected` and passes it to every query. The choice lives in
``st.session_state`` (so it survives page switches) and in the address
(``?run=ID``, a run's name, or ``all``). Until a visitor picks another run it
follows the latest: a run that starts while the dashboard is open is shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import streamlit as st

from ui import queries as q
from ui.frames import Runs

KEY = "run"  # the selector's value: a run id, or ALL
NEWEST = "run_newest"  # the newest run when the selector last rendered
ALL = "all"
HELP = (
    "Every page reads the selected run only (the latest by default), as `edgeloop-ledger "
    "--run ID` does; all runs: every run of this database together (`--run all`)."
)


def label(run: Mapping[str, Any]) -> str:
    """``run 3 'calm' · sim seed=7 · finished``."""
    name = "" if pd.isna(run["name"]) else f" '{run['name']}'"
    seed = "" if pd.isna(run["seed"]) else f" seed={int(run['seed'])}"
    return f"run {int(run['id'])}{name} · {run['feed']}{seed} · {run['status']}"


def _from_address(runs: pd.DataFrame) -> int | str | None:
    """``?run=``: a run id, a run's name or ``all``; None when absent or unknown."""
    ref = st.query_params.get(KEY, "").strip()
    if ref in ("", ALL):
        return ref or None
    match = runs[(runs["id"].astype(str) == ref) | (runs["name"] == ref).fillna(False)]
    if len(match):
        return int(match["id"].iloc[0])
    st.sidebar.warning(f"No run {ref!r} in this database: showing the latest.")
    return None


def _settle(runs: pd.DataFrame) -> None:
    """Set the choice before the widget renders: from the address at first, else the latest
    when the visitor was on the latest (a newer run started) or the chosen run is gone."""
    state, ids = st.session_state, runs["id"].tolist()
    newest = ids[0]
    if KEY not in state:
        state[KEY] = _from_address(runs) or newest
    elif state[KEY] == state.get(NEWEST) or (state[KEY] != ALL and state[KEY] not in ids):
        state[KEY] = newest
    state[NEWEST] = newest


def sidebar(url: str) -> None:
    """The selector: every run, newest first, then all runs; the latest run by default."""
    if not q.has_ledger(url):
        return
    runs = q.runs_table(url)
    if runs.empty:
        st.session_state.pop(KEY, None)
        st.sidebar.caption("No run in this database yet.")
        return
    labels = {int(r["id"]): label(r) for r in runs.to_dict("records")}
    _settle(runs)
    st.sidebar.selectbox(
        "Run",
        [*labels, ALL],
        key=KEY,
        format_func=lambda v: labels.get(v, "all runs"),
        help=HELP,
    )
    st.query_params[KEY] = str(st.session_state[KEY])


def selected() -> Runs:
    """The runs the pages read: ``(id,)``, or None for all runs (and before the first run)."""
    value = st.session_state.get(KEY, ALL)
    return None if value == ALL else (int(value),)


def shown(url: str) -> str:
    """What the selection shows, for a caption: the run's label, or ``all runs (N)``."""
    runs = q.runs_table(url)
    chosen = selected()
    if chosen is None:
        return f"all runs ({len(runs)})"
    row = runs[runs["id"] == chosen[0]]
    return label(row.iloc[0]) if len(row) else f"run {chosen[0]}"


def stale(url: str) -> bool:
    """Whether a run newer than the one followed started (the Live page then reruns the app)."""
    runs = q.runs_table(url)
    state = st.session_state
    if runs.empty or int(runs["id"].iloc[0]) == state.get(NEWEST):
        return False
    return KEY not in state or state[KEY] == state.get(NEWEST)
