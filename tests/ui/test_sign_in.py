"""Who may sign in to write on the Settings page: no empty passwords (configured or typed), a
lockout after repeated failures that a reload does not reset, OpenID Connect users only by a
verified e-mail, and no writer named like the engine."""

from __future__ import annotations

import pytest

from settings_service import SettingsStore
from ui import auth

WRITE_WIDGETS = "set:"


@pytest.fixture(autouse=True)
def _no_lockouts():
    auth.login_throttle().reset()  # the throttle is process-wide: keep tests apart
    yield
    auth.login_throttle().reset()


def sign_in(at, user: str, password: str):
    at.text_input(key="auth_name").input(user)
    at.text_input(key="auth_password").input(password)
    at.button(key="FormSubmitter:auth_form-Sign in").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def can_write(at) -> bool:
    return any(n.key and n.key.startswith(WRITE_WIDGETS) for n in at.number_input)


def errors(at) -> str:
    return "\n".join(e.value for e in at.error)


def test_a_user_whose_configured_password_is_empty_can_never_sign_in(app, ledger_url):
    secrets = {"passwords": {"alice": "correct horse", "bob": "  "}, "writers": ["alice", "bob"]}
    at = app(ledger_url, "Settings", secrets=secrets)
    assert "Sign-in is misconfigured: bob has an empty password" in errors(at)
    for typed in ("", "  ", "x"):
        at = sign_in(at, "bob", typed)
        assert not can_write(at)
    assert "Unknown user or wrong password." in errors(at)
    assert can_write(sign_in(at, "alice", "correct horse"))  # the others still sign in


def test_only_empty_passwords_still_say_the_configuration_is_wrong(app, ledger_url):
    at = app(ledger_url, "Settings", secrets={"passwords": {"alice": ""}})
    assert "alice has an empty password" in errors(at)
    assert not can_write(sign_in(at, "alice", ""))


def test_an_empty_typed_password_is_refused(app, ledger_url):
    at = sign_in(app(ledger_url, "Settings", secrets={"passwords": {"alice": "pw"}}), "alice", "")
    assert "an empty password is never accepted" in errors(at)
    assert not can_write(at)


def test_five_failures_lock_the_user_out_and_a_reload_does_not_reset_it(app, ledger_url):
    secrets = {"passwords": {"alice": "correct horse", "bob": "battery staple"}}
    at = app(ledger_url, "Settings", secrets=secrets)
    for _ in range(4):
        at = sign_in(at, "alice", "guess")
        assert errors(at) == "Unknown user or wrong password."
    at = sign_in(at, "alice", "guess")
    assert "Too many failed sign-ins: locked for 30 s." in errors(at)
    at = sign_in(at, "alice", "correct horse")  # the right password, during the lockout
    assert "Too many failed sign-ins: try again in" in errors(at) and not can_write(at)
    at = sign_in(at, "bob", "battery staple")  # this browser session is locked too
    assert "try again in" in errors(at) and not can_write(at)

    fresh = app(ledger_url, "Settings", secrets=secrets)  # a reload: a new session
    fresh = sign_in(fresh, "Alice", "correct horse")  # the name is counted case-folded
    assert "try again in" in errors(fresh)
    fresh = sign_in(fresh, "alice", "correct horse")
    assert "try again in" in errors(fresh) and not can_write(fresh)
    assert can_write(sign_in(fresh, "bob", "battery staple"))  # another user, another session
    assert SettingsStore(ledger_url).latest_id() == 0


def test_a_password_user_named_like_the_engine_reads_only(app, ledger_url):
    secrets = {"passwords": {"Calibrator": "a long password"}, "writers": ["Calibrator"]}
    at = sign_in(app(ledger_url, "Settings", secrets=secrets), "Calibrator", "a long password")
    assert "a name reserved for the engine's writers: read only" in at.markdown[0].value
    assert not can_write(at)


OIDC = {
    "auth": {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x"},
    "writers": ["alice@example.com"],
}


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        ({"email": "alice@example.com"}, "does not say this e-mail is verified"),
        ({"email": "alice@example.com", "email_verified": False}, "is verified"),
        ({"email": "alice@example.com", "email_verified": "false"}, "is verified"),
        ({"name": "alice@example.com"}, "no e-mail claim"),  # a display name is never the user
        ({"preferred_username": "alice@example.com", "email_verified": True}, "no e-mail claim"),
    ],
)
def test_oidc_without_a_verified_email_is_not_a_writer(app, ledger_url, claims, why):
    at = app(ledger_url, "Settings", secrets=OIDC, user={"is_logged_in": True, **claims})
    assert not at.exception
    assert why in at.warning[0].value and "read only" in at.warning[0].value
    assert [b.label for b in at.button if b.key == "auth_sign_out"] == ["Sign out"]
    assert not can_write(at)


@pytest.mark.parametrize(
    ("claims", "identity"),
    [
        ({"is_logged_in": True, "email": "a@x.org", "email_verified": True}, "a@x.org"),
        ({"is_logged_in": True, "email": " a@x.org ", "email_verified": "true"}, "a@x.org"),
        ({"is_logged_in": True, "email": "a@x.org", "email_verified": "yes"}, None),
        ({"is_logged_in": True, "email": "a@x.org", "email_verified": 1}, None),
        ({"is_logged_in": True, "email": "", "email_verified": True}, None),
        ({"is_logged_in": True, "name": "a@x.org", "email_verified": True}, None),
        ({"is_logged_in": False, "email": "a@x.org", "email_verified": True}, None),
    ],
)
def test_identity_from_claims_is_the_verified_email_only(claims, identity):
    assert auth.identity_from_claims(claims) == identity
