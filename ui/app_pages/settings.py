"""Settings: a form built from the settings schema, a required reason, a diff preview before
applying, the version history with diffs, and rollback. Writes go through the settings service
as the signed-in user (author_kind "human"); viewing needs no sign-in."""

import math
from collections.abc import Callable

import pandas as pd
import streamlit as st

from settings_service import (
    Param,
    SettingsConflict,
    SettingsError,
    SettingsValidationError,
    Version,
)
from settings_service.models import engines_summary
from ui import auth
from ui import queries as q

url = q.db_url()
st.title("Settings")
if not q.has_ledger(url):
    st.warning(f"No database at {url}: run `edgeloop` (or `alembic upgrade head`) first.")
    st.stop()

store = q.settings_store(url)
current = q.settings_current(url)
cfg = auth.config()
user = auth.sign_in_panel(cfg)
writer = auth.may_write(cfg, user)
PENDING, FLASH, WIDGET = "settings_pending", "settings_flash", "set:"
WAIT_S = 3.0  # how long a write waits for the running engines' answers

kind, message = st.session_state.pop(FLASH, (None, None))
if kind:
    getattr(st, kind)(message)
st.caption(
    f"Version in force: **v{current.id}**"
    + (f" by {current.author} ({current.author_kind}): {current.reason}" if current.id else "")
    + ". Layers, lowest first: Hydra defaults (conf/) < run overrides < this version."
    + " The versions are the database's: every run reads them, whichever run is selected."
)


def _done(kind: str, message: str) -> None:
    """After a write: forget cached reads and the form's edits, say what happened, re-render."""
    st.session_state.pop(PENDING, None)
    for key in [k for k in st.session_state if str(k).startswith(WIDGET)]:
        del st.session_state[key]
    st.session_state[FLASH] = (kind, message)
    q.refresh()
    st.rerun()


def _write(action: Callable[[], object]) -> None:
    """Run a store write as the signed-in writer; a refusal or conflict is shown, not raised."""
    if not auth.may_write(cfg, auth.current_user(cfg)):
        st.error("Only a signed-in user on the writers allowlist may change settings.")
        return
    try:
        version = action()
    except SettingsValidationError as exc:
        st.error("Refused, nothing was written:\n\n" + "\n".join(f"- `{p}`" for p in exc.problems))
    except SettingsConflict as exc:
        st.error(f"Conflict: {exc}")
    except SettingsError as exc:
        st.error(f"Error: {exc}")
    else:
        _done(*_answers(version))


def _answers(version: Version) -> tuple[str, str]:
    """What the running engines did with the new version (they answer within a tick)."""
    running = store.running_engines()
    answers = store.wait_for_applications(version.id, runs=running, timeout_s=WAIT_S)
    refused = [a for a in answers if a.status == "refused"]
    said = f"Wrote v{version.id}: {version.reason}."
    if refused:
        switches = ", ".join(f"{k}={v}" for k, v in refused[0].protected.items())
        return "error", (
            f"{said} **Refused by the running engine**: {engines_summary(refused)}. "
            f"It keeps its last good version, with this version's protected switches ({switches})."
        )
    silent = sorted(set(running) - {a.run_id for a in answers})
    if silent:
        return "warning", (
            f"{said} Run(s) {silent} are marked running but did not answer within {WAIT_S:g} s."
        )
    return "success", said + (f" {engines_summary(answers)}." if answers else "")


def _widget(p: Param, value: object, label: str) -> object:
    """One input for ``p`` whose bounds are the schema's (the service checks open bounds)."""
    help_ = (
        f"{p.description}. {p.range_text} {p.unit}".strip()
        + f" · writers: {', '.join(sorted(p.allowed))}"
    )
    key = WIDGET + p.key
    label = f"{label} 🔒" if p.protected else label
    if p.type is bool:
        return st.toggle(label, value=bool(value), key=key, help=help_)
    if p.type is str:
        if p.choices:
            index = p.choices.index(value) if value in p.choices else None
            return st.selectbox(label, p.choices, index=index, key=key, help=help_)
        return st.text_input(label, value=str(value or ""), key=key, help=help_)
    cast = int if p.type is int else float
    lo = None if p.lo is None or (value is not None and value < p.lo) else cast(p.lo)
    hi = None if p.hi is None or (value is not None and value > p.hi) else cast(p.hi)
    small = (p.hi or 0) <= 10
    return st.number_input(
        f"{label} ({p.unit})" if p.unit else label,
        min_value=lo,
        max_value=hi,
        value=None if value is None else cast(value),
        step=1 if cast is int else (0.01 if small else 1.0),
        format="%d" if cast is int else ("%.4f" if small else "%.2f"),
        key=key,
        help=help_,
    )


def _changed(old: object, new: object) -> bool:
    if old is None:  # no layer sets it: an untouched widget shows it as empty or off
        return new not in (None, "", False)
    if isinstance(old, float) and isinstance(new, int | float) and not isinstance(new, bool):
        return not math.isclose(old, new, rel_tol=0, abs_tol=1e-12)
    return old != new


def edit_form() -> None:
    values = q.effective_values(url)
    params = list(store.schema)
    sections = sorted({q.section(p.key) for p in params}, key=lambda s: (s != "global", s))
    edited: dict[str, object] = {}
    with st.form("settings_form"):
        for tab, name in zip(st.tabs(sections), sections, strict=True):
            mine = [p for p in params if q.section(p.key) == name]
            prefix = "" if name == "global" else f"strategies.{name}."
            cols = tab.columns(3)
            for i, p in enumerate(mine):
                with cols[i % 3]:
                    edited[p.key] = _widget(p, values.get(p.key), p.key.removeprefix(prefix))
        unset = st.multiselect(
            "Remove overrides (fall back to conf/)", sorted(current.document), key="settings_unset"
        )
        reason = st.text_input("Reason (required)", key="settings_reason")
        if not st.form_submit_button("Preview changes", type="primary"):
            return
    changes = {k: v for k, v in edited.items() if k not in unset and _changed(values.get(k), v)}
    changes.update(dict.fromkeys(unset))
    if not changes:
        st.warning("Nothing changed.")
    elif not reason.strip():
        st.error("A reason is required: say why, it goes into the version history.")
    else:
        st.session_state[PENDING] = {"changes": changes, "reason": reason, "expected": current.id}


def preview() -> None:
    pending = st.session_state.get(PENDING)
    if not pending:
        return
    values = q.effective_values(url)
    changes, expected = pending["changes"], pending["expected"]
    st.markdown(f"**Preview** of v{expected + 1} (on top of v{expected}): _{pending['reason']}_")
    st.table(
        pd.DataFrame(
            [(k, q.show(values.get(k)), q.show(v)) for k, v in changes.items()],
            columns=pd.Index(["setting", "now", "after"]),
        )
    )
    problems = []
    try:
        store.schema.validate(
            changes, author_kind="human", document=current.document, base=store.base
        )
    except SettingsValidationError as exc:
        problems = [str(p) for p in exc.problems]
        st.error("Refused, nothing was written:\n\n" + "\n".join(f"- `{p}`" for p in problems))
    apply, discard, _ = st.columns([1, 1, 4])
    if apply.button(f"Apply as v{expected + 1}", type="primary", disabled=bool(problems)):
        _write(
            lambda: store.write(
                changes,
                author=auth.current_user(cfg) or "",
                author_kind="human",
                reason=pending["reason"],
                expected_version=expected,
            )
        )
    if discard.button("Discard"):
        st.session_state.pop(PENDING, None)
        st.rerun()


def history() -> None:
    versions = q.settings_history(url)
    st.dataframe(
        versions,
        hide_index=True,
        column_config={
            "created_at": st.column_config.DatetimeColumn(
                "written (UTC)", format="YYYY-MM-DD HH:mm:ss"
            ),
            "rollback_of": st.column_config.NumberColumn("rollback of"),
            "changed": st.column_config.TextColumn("changed", width="large"),
            "engines": st.column_config.TextColumn(
                "engines", help="what each running engine did with the version", width="large"
            ),
        },
    )
    ids = versions["version"].tolist()
    if len(ids) < 2:
        st.caption("No version written yet: every value comes from conf/.")
        return
    a_col, b_col, _ = st.columns([1, 1, 3])
    b = b_col.selectbox("Compare version", ids, index=0, key="diff_b")
    a = a_col.selectbox("with version", ids, index=min(1, len(ids) - 1), key="diff_a")
    diff = q.settings_diff(url, a, b)
    if diff.empty:
        st.caption(f"v{a} and v{b} hold the same overrides.")
    else:
        st.dataframe(diff, hide_index=True, column_config={"old": f"v{a}", "new": f"v{b}"})
    if not writer:
        return
    st.markdown("**Roll back**: a new version whose overrides equal an older one's.")
    target_col, reason_col, button_col = st.columns([1, 3, 1], vertical_alignment="bottom")
    target = target_col.selectbox("to version", ids[1:], key="rollback_to")
    reason = reason_col.text_input("Reason (required)", key="rollback_reason")
    if button_col.button(f"Roll back to v{target}", key="rollback"):
        _write(
            lambda: store.rollback(
                target,
                author=auth.current_user(cfg) or "",
                author_kind="human",
                reason=reason,
                expected_version=current.id,
            )
        )


# A writer lands on the form, anyone else on the values.
names = ["Edit", "All settings", "History"] if writer else ["All settings", "Edit", "History"]
tabs = dict(zip(names, st.tabs(names), strict=True))
edit, everything, versions = tabs["Edit"], tabs["All settings"], tabs["History"]
with edit:
    if writer:
        edit_form()
        preview()
    elif user:
        st.info(f"{user} is not on the writers allowlist (`writers` in secrets): read only.")
    elif cfg.mode == auth.NONE:
        st.info("Writing is off until a sign-in is configured: see How to allow writes above.")
    else:
        st.info("Sign in to change settings; every value is listed under All settings.")
with everything:
    st.dataframe(
        q.settings_table(url),
        hide_index=True,
        height=560,
        column_config={"description": st.column_config.TextColumn(width="large")},
    )
with versions:
    history()
