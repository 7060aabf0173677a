"""The Settings page: schema form, required reason, diff preview, validation, history, rollback, and
who may write (nobody without credentials; a signed-in user on the allowlist)."""

from __future__ import annotations

from settings_service import SettingsStore
from tests.ui.conftest import PAGES

MIN_SIGMA = "strategies.updown.gates.sigma.min_sigma"
MAX_PRICE = "strategies.updown.gates.max_odds.max_price"
DEAD_LOW = "strategies.updown.gates.dead_zone.low"
PASSWORDS = {"passwords": {"alice": "correct horse", "bob": "battery staple"}, "writers": ["alice"]}


def store(url: str) -> SettingsStore:
    return SettingsStore(url)


def signed_in(app, url: str, user: str = "alice", password: str | None = None):
    at = app(url, "Settings", secrets=PASSWORDS)
    at.text_input(key="auth_name").input(user)
    at.text_input(key="auth_password").input(password or PASSWORDS["passwords"][user])
    at.button(key="FormSubmitter:auth_form-Sign in").click().run()
    assert not at.exception
    return at


def preview(at, changes: dict, reason: str = "tighter entries"):
    for key, value in changes.items():
        at.number_input(key=f"set:{key}").set_value(value)
    at.text_input(key="settings_reason").input(reason)
    at.button(key="FormSubmitter:settings_form-Preview changes").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def apply_button(at):
    return next((b for b in at.button if b.label.startswith("Apply as v")), None)


def test_without_credentials_the_page_explains_how_to_configure_them(app, ledger_url):
    at = app(ledger_url, "Settings")
    assert not at.exception
    assert "no sign-in is configured" in at.info[0].value
    assert "[passwords]" in "\n".join(m.value for m in at.markdown)
    assert not at.get("form") or not any(f.id.endswith("settings_form") for f in at.get("form"))
    assert not [b for b in at.button if b.label.startswith(("Apply", "Roll back"))]
    assert len(at.dataframe[0].value) == len(store(ledger_url).schema)  # viewing needs no sign-in


def test_a_visitor_who_is_not_signed_in_cannot_write(app, ledger_url):
    at = app(ledger_url, "Settings", secrets=PASSWORDS)
    assert not at.exception
    assert any("Sign in to change settings" in i.value for i in at.info)
    assert not [n for n in at.number_input if n.key and n.key.startswith("set:")]
    assert not [b for b in at.button if b.label.startswith(("Apply", "Roll back"))]
    at.text_input(key="auth_name").input("alice")
    at.text_input(key="auth_password").input("wrong")
    at.button(key="FormSubmitter:auth_form-Sign in").click().run()
    assert "wrong password" in at.error[0].value
    assert not [n for n in at.number_input if n.key and n.key.startswith("set:")]
    assert store(ledger_url).latest_id() == 0


def test_a_signed_in_user_off_the_allowlist_reads_only(app, ledger_url):
    at = signed_in(app, ledger_url, "bob")
    assert any("not on the writers allowlist" in i.value for i in at.info)
    assert not [n for n in at.number_input if n.key and n.key.startswith("set:")]
    assert store(ledger_url).latest_id() == 0


def test_an_edit_is_previewed_then_written_as_a_new_version_by_the_user(app, ledger_url):
    at = signed_in(app, ledger_url)
    form_keys = {w.key for w in [*at.number_input, *at.toggle, *at.selectbox] if w.key}
    assert {f"set:{p.key}" for p in store(ledger_url).schema} <= form_keys  # every param
    preview(at, {MIN_SIGMA: 2.0})
    assert store(ledger_url).latest_id() == 0  # a preview writes nothing
    diff = at.table[0].value
    assert diff.values.tolist() == [[MIN_SIGMA, "1.5", "2"]]
    at = apply_button(at).click().run()
    assert not at.exception
    version = store(ledger_url).current()
    assert version.id == 1
    assert (version.author, version.author_kind, version.reason) == (
        "alice",
        "human",
        "tighter entries",
    )
    assert version.document == {MIN_SIGMA: 2.0}
    assert "Wrote v1" in at.success[0].value
    assert at.number_input(key=f"set:{MIN_SIGMA}").value == 2.0  # the form shows v1
    assert at.dataframe[-2].value["version"].tolist() == [1, 0]  # the history


def test_an_out_of_bounds_value_shows_the_rule_and_writes_nothing(app, ledger_url):
    at = preview(
        signed_in(app, ledger_url), {MAX_PRICE: 0.0}
    )  # the widget allows 0, the rule is (0, 1]
    assert f"{MAX_PRICE}=0.0 must be in (0, 1]" in at.error[0].value
    assert apply_button(at).disabled
    at = preview(at, {MAX_PRICE: 0.85, DEAD_LOW: 0.7})  # over dead_zone.high = 0.58
    assert (
        f"{DEAD_LOW}=0.7 must be <= strategies.updown.gates.dead_zone.high=0.58"
        in at.error[0].value
    )
    assert store(ledger_url).latest_id() == 0


def test_the_widgets_hold_the_schemas_bounds(app, ledger_url):
    at = signed_in(app, ledger_url)
    widget = at.number_input(key=f"set:{MIN_SIGMA}")
    assert (widget.min, widget.max) == (0.0, 10.0)
    preview(at, {MIN_SIGMA: 50.0})  # the server keeps the widget in bounds: nothing changed
    assert "Nothing changed." in at.warning[0].value
    assert store(ledger_url).latest_id() == 0


def test_a_reason_is_required(app, ledger_url):
    at = preview(signed_in(app, ledger_url), {MIN_SIGMA: 2.0}, reason="  ")
    assert "A reason is required" in at.error[0].value
    assert apply_button(at) is None
    assert store(ledger_url).latest_id() == 0


def test_a_write_on_a_stale_version_is_a_conflict(app, ledger_url):
    at = preview(signed_in(app, ledger_url), {MIN_SIGMA: 2.0})
    store(ledger_url).write(
        {MIN_SIGMA: 1.8}, author="carol", author_kind="human", reason="first", expected_version=0
    )
    at = apply_button(at).click().run()
    assert "Conflict: expected version 0 but the latest is 1" in at.error[0].value
    assert store(ledger_url).current().document == {MIN_SIGMA: 1.8}


def test_history_diff_and_rollback(app, ledger_url):
    s = store(ledger_url)
    s.write({MIN_SIGMA: 2.0}, author="carol", author_kind="human", reason="a", expected_version=0)
    s.write({MIN_SIGMA: 2.5}, author="carol", author_kind="human", reason="b", expected_version=1)
    at = signed_in(app, ledger_url)
    diff = at.dataframe[-1].value
    assert diff.values.tolist() == [[MIN_SIGMA, "2", "2.5"]]  # v1 -> v2, newest first
    at.selectbox(key="rollback_to").set_value(1)
    at.text_input(key="rollback_reason").input("v2 lost money")
    at = at.button(key="rollback").click().run()
    assert not at.exception
    version = s.current()
    assert (version.id, version.rollback_of, version.author) == (3, 1, "alice")
    assert version.document == {MIN_SIGMA: 2.0}


def test_oidc_sign_in_uses_st_user_and_the_allowlist(app, ledger_url):
    secrets = {
        "auth": {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x"},
        "writers": ["alice@example.com"],
    }
    at = app(ledger_url, "Settings", secrets=secrets, user={"is_logged_in": False})
    assert [b.label for b in at.button if b.label == "Sign in"] == ["Sign in"]
    assert not [n for n in at.number_input if n.key and n.key.startswith("set:")]
    user = {"is_logged_in": True, "email": "alice@example.com", "email_verified": True}
    at = app(ledger_url, "Settings", secrets=secrets, user=user)
    assert not at.exception
    assert "Signed in as **alice@example.com** (may write)" in at.markdown[0].value
    preview(at, {MIN_SIGMA: 2.0})
    apply_button(at).click().run()
    assert store(ledger_url).current().author == "alice@example.com"


def test_settings_version_in_force_shows_on_live(app, ledger_url):
    store(ledger_url).write(
        {MIN_SIGMA: 2.0}, author="carol", author_kind="human", reason="x", expected_version=0
    )
    at = app(ledger_url, "Live")
    assert "latest in the store: v1" in "\n".join(c.value for c in at.caption)
    at.switch_page(PAGES["Settings"]).run()
    assert "**v1**" in "\n".join(c.value for c in at.caption)


def test_a_version_the_running_engine_refuses_is_shown_to_the_writer_and_in_history(
    app, ledger_url
):
    import threading

    from engine.ledger import runs
    from engine.ledger.db import make_engine, make_sessionmaker

    engine = make_engine(ledger_url)
    with make_sessionmaker(engine).begin() as session:
        run = runs.start_run(
            session=session, name=None, mode="paper", feed_identity={"kind": "sim", "seed": 1},
            fingerprint="f" * 16, config={"seed": 1}, settings_version=0,
        )  # fmt: skip
        run_id = run.id
    engine.dispose()
    answering = store(ledger_url)
    first = answering.latest_id()

    def engine_answers() -> None:  # what a running engine does with a version it cannot build
        for _ in range(200):
            latest = answering.latest_id()
            if latest > first:
                answering.report(
                    latest, instance="host:4242", status="refused", run_id=run_id,
                    reason="strategies.updown.gates.dead_zone.low=0.45 must be < high=0.4",
                    protected={"kill_switch": False, "entries_paused": False},
                )  # fmt: skip
                return
            threading.Event().wait(0.05)

    thread = threading.Thread(target=engine_answers)
    thread.start()
    at = preview(signed_in(app, ledger_url), {DEAD_LOW: 0.45})
    apply_button(at).click().run()
    thread.join(timeout=15)
    assert not at.exception
    assert any("Refused by the running engine" in e.value for e in at.error), [
        e.value for e in at.error
    ]
    history = next(d.value for d in at.dataframe if "engines" in d.value.columns)
    assert f"run {run_id} REFUSED: strategies.updown" in history["engines"].iloc[0]
    answering.close()
