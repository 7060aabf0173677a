"""Who may write settings from the dashboard. Viewing needs no sign-in; writing does.

Configured in Streamlit secrets (``.streamlit/secrets.toml``, never committed):

- an ``[auth]`` section (an OpenID Connect provider): sign-in with ``st.login``,
  the user is the account's e-mail, and only when the provider says it is
  verified (``email_verified`` true; never the display name, which anyone
  can choose); ``writers`` is required (any account of the provider can sign in);
- else a ``[passwords]`` table (user = password): a small sign-in form; the
  writers default to those users. A user whose password is empty can never
  sign in (the page says the configuration is wrong), an empty typed password
  is refused, and after 5 failures for a user name or a browser session a
  lockout starts (30 s, doubling per further failure, up to 1 h) that is kept
  per server process, so reloading the page does not reset it;
- ``writers = [...]``: the allowlist of users who may write.

Without either, nobody can write and the Settings page says how to configure it.
A name that reads as one of the engine's writers (calibrator, governor, engine)
never writes from here: the dashboard writes as a human.
"""

from __future__ import annotations

import hmac
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import streamlit as st

from settings_service.identity import engine_role_in, skeleton
from ui.login_throttle import LoginThrottle

OIDC, PASSWORD, NONE = "oidc", "password", "none"
_USER = "ui_user"  # session-state key of the user signed in with a password
_SESSION = "ui_auth_session"  # session-state key of this browser session's throttle key

HOW_TO = """Writing settings needs a signed-in user on the allowlist. Add to
`.streamlit/secrets.toml` in the folder you start the dashboard from (the repository
root; never committed) either passwords:

```toml
writers = ["alice"]

[passwords]
alice = "a long random password"
```

(an empty password never signs in; 5 failed sign-ins lock the name for a while), or an
OpenID Connect provider (`pip install Authlib`; see `st.login`), whose users are their
verified e-mails (`email_verified`), never their display names:

```toml
writers = ["alice@example.com"]

[auth]
redirect_uri = "http://localhost:8501/oauth2callback"
cookie_secret = "a long random string"
client_id = "..."
client_secret = "..."
server_metadata_url = "https://accounts.google.com/.well-known/openid-configuration"
```
"""


@dataclass(frozen=True)
class AuthConfig:
    """``problems``: what is wrong with the configuration, shown on the page."""

    mode: str
    passwords: dict[str, str]
    writers: frozenset[str]
    provider: str | None = None
    problems: tuple[str, ...] = ()


def _secrets() -> dict[str, Any]:
    try:
        return st.secrets.to_dict()
    except FileNotFoundError:  # no secrets.toml: StreamlitSecretNotFoundError
        return {}


def config() -> AuthConfig:
    """The sign-in mode and allowlist from ``st.secrets``."""
    secrets = _secrets()
    table = {str(k): str(v) for k, v in dict(secrets.get("passwords") or {}).items()}
    passwords = {user: pw for user, pw in table.items() if pw.strip()}
    empty = sorted(set(table) - set(passwords))
    problems: tuple[str, ...] = ()
    if empty:
        who = ", ".join(empty) + (" has" if len(empty) == 1 else " have")
        problems = (
            f"Sign-in is misconfigured: {who} an empty password in `[passwords]`, so they can "
            "never sign in. Set a long random password.",
        )
    listed = secrets.get("writers")
    auth = secrets.get("auth")
    if isinstance(auth, dict) and auth:
        providers = [k for k, v in auth.items() if isinstance(v, dict)]
        provider = providers[0] if len(providers) == 1 else None
        return AuthConfig(OIDC, {}, frozenset(map(str, listed or ())), provider)
    if table:
        writers = frozenset(map(str, listed)) if listed is not None else frozenset(passwords)
        return AuthConfig(PASSWORD, passwords, writers, problems=problems)
    return AuthConfig(NONE, {}, frozenset())


def _verified(flag: object) -> bool:
    # A boolean claim; a few providers send the string "true".
    return flag is True or (isinstance(flag, str) and flag.strip().lower() == "true")


def identity_from_claims(claims: Mapping[str, Any]) -> str | None:
    """The user of an OpenID Connect sign-in (``st.user``'s claims): the e-mail when the
    provider verified it, else None. Never the display name or the preferred user name, which
    the account holder chooses (a name can read as an allowed user's)."""
    email = claims.get("email")
    if not claims.get("is_logged_in") or not isinstance(email, str) or not email.strip():
        return None
    return email.strip() if _verified(claims.get("email_verified")) else None


def claims_refusal(claims: Mapping[str, Any]) -> str | None:
    """Why a signed-in OpenID Connect account is not a user who may write, or None."""
    if not claims.get("is_logged_in") or identity_from_claims(claims):
        return None
    if not isinstance(claims.get("email"), str) or not str(claims.get("email")).strip():
        return (
            "Signed in, but the provider sent no e-mail claim: read only. The user is the "
            "verified e-mail, never the display name (add the `email` scope)."
        )
    return (
        f"Signed in as {claims['email']}, but the provider does not say this e-mail is "
        "verified (`email_verified`): read only."
    )


def current_user(cfg: AuthConfig) -> str | None:
    """The signed-in user, or None for a visitor."""
    if cfg.mode == OIDC:
        return identity_from_claims(st.user.to_dict())
    if cfg.mode == PASSWORD:
        user = st.session_state.get(_USER)
        return user if user in cfg.passwords else None
    return None


def may_write(cfg: AuthConfig, user: str | None) -> bool:
    """On the allowlist, and not named like one of the engine's writers."""
    return bool(user) and user in cfg.writers and engine_role_in(user or "") is None


def check_password(cfg: AuthConfig, user: str, password: str) -> bool:
    """A constant-time comparison; an empty password (configured or typed) never matches."""
    expected = cfg.passwords.get(user) or ""
    same = hmac.compare_digest(expected.encode(), password.encode())
    return same and bool(expected.strip()) and bool(password)


@st.cache_resource
def login_throttle() -> LoginThrottle:
    """The failed sign-ins of this server process: every session shares them."""
    return LoginThrottle()


def _throttle_keys(name: str) -> tuple[tuple[str, str], ...]:
    session = st.session_state.setdefault(_SESSION, uuid.uuid4().hex)
    return (("user", skeleton(name).strip()), ("session", session))


def _attempt(cfg: AuthConfig, name: str, password: str) -> None:
    """Check one sign-in, unless a lockout holds; a success signs in and re-renders."""
    throttle, keys = login_throttle(), _throttle_keys(name)
    wait = throttle.wait_s(keys)
    if wait > 0:
        st.error(f"Too many failed sign-ins: try again in {math.ceil(wait)} s.")
        return
    if not password:
        st.error("Type the password: an empty password is never accepted.")
        return
    if check_password(cfg, name, password):
        throttle.succeeded(keys)
        st.session_state[_USER] = name
        st.rerun()
    lock = throttle.failed(keys)
    locked = f" Too many failed sign-ins: locked for {math.ceil(lock)} s." if lock else ""
    st.error("Unknown user or wrong password." + locked)


def _role(cfg: AuthConfig, user: str) -> str:
    if engine_role_in(user):
        return "a name reserved for the engine's writers: read only"
    return "may write" if may_write(cfg, user) else "not on the writers allowlist: read only"


def sign_in_panel(cfg: AuthConfig) -> str | None:
    """Render who is signed in (with sign-out) or the sign-in control; returns the user."""
    user = current_user(cfg)
    for problem in cfg.problems:
        st.error(problem)
    if cfg.mode == NONE:
        st.info("Viewing only: no sign-in is configured.")
        with st.expander("How to allow writes"):
            st.markdown(HOW_TO)
        return None
    refusal = claims_refusal(st.user.to_dict()) if cfg.mode == OIDC else None
    if user or refusal:
        left, right = st.columns([4, 1])
        if refusal:
            left.warning(refusal)
        else:
            left.markdown(f"Signed in as **{user}** ({_role(cfg, user or '')}).")
        if right.button("Sign out", key="auth_sign_out"):
            if cfg.mode == OIDC:
                st.logout()
            st.session_state.pop(_USER, None)
            st.rerun()
        return user
    if cfg.mode == OIDC:
        st.info("Viewing needs no sign-in; changing settings does.")
        if st.button("Sign in", key="auth_sign_in"):
            st.login(cfg.provider) if cfg.provider else st.login()
        return None
    with st.form("auth_form"):
        st.caption("Viewing needs no sign-in; changing settings does.")
        name = st.text_input("User", key="auth_name")
        password = st.text_input("Password", type="password", key="auth_password")
        if st.form_submit_button("Sign in"):
            _attempt(cfg, name, password)
    return None
