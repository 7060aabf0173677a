"""Who may write settings from the dashboard. Viewing needs no sign-in; writing does.

Configured in Streamlit secrets (``.streamlit/secrets.toml``, never committed):

- an ``[auth]`` section (an OpenID Connect provider): sign-in with ``st.login``,
  the user is ``st.user.email``; ``writers`` is required (any account of the
  provider can sign in);
- else a ``[passwords]`` table (user = password): a small sign-in form; the
  writers default to those users;
- ``writers = [...]``: the allowlist of users who may write.

Without either, nobody can write and the Settings page says how to configure it.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

import streamlit as st

OIDC, PASSWORD, NONE = "oidc", "password", "none"
_USER = "ui_user"  # session-state key of the user signed in with a password

HOW_TO = """Writing settings needs a signed-in user on the allowlist. Add to
`.streamlit/secrets.toml` in the folder you start the dashboard from (the repository
root; never committed) either passwords:

```toml
writers = ["alice"]

[passwords]
alice = "a long random password"
```

or an OpenID Connect provider (`pip install Authlib`; see `st.login`):

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
    mode: str
    passwords: dict[str, str]
    writers: frozenset[str]
    provider: str | None = None


def _secrets() -> dict[str, Any]:
    try:
        return st.secrets.to_dict()
    except FileNotFoundError:  # no secrets.toml: StreamlitSecretNotFoundError
        return {}


def config() -> AuthConfig:
    """The sign-in mode and allowlist from ``st.secrets``."""
    secrets = _secrets()
    passwords = {str(k): str(v) for k, v in dict(secrets.get("passwords") or {}).items()}
    listed = secrets.get("writers")
    auth = secrets.get("auth")
    if isinstance(auth, dict) and auth:
        providers = [k for k, v in auth.items() if isinstance(v, dict)]
        provider = providers[0] if len(providers) == 1 else None
        return AuthConfig(OIDC, {}, frozenset(map(str, listed or ())), provider)
    if passwords:
        writers = frozenset(map(str, listed)) if listed is not None else frozenset(passwords)
        return AuthConfig(PASSWORD, passwords, writers)
    return AuthConfig(NONE, {}, frozenset())


def current_user(cfg: AuthConfig) -> str | None:
    """The signed-in user, or None for a visitor."""
    if cfg.mode == OIDC:
        info = st.user.to_dict()
        if not info.get("is_logged_in"):
            return None
        return str(info.get("email") or info.get("preferred_username") or info.get("name") or "")
    if cfg.mode == PASSWORD:
        user = st.session_state.get(_USER)
        return user if user in cfg.passwords else None
    return None


def may_write(cfg: AuthConfig, user: str | None) -> bool:
    return bool(user) and user in cfg.writers


def check_password(cfg: AuthConfig, user: str, password: str) -> bool:
    expected = cfg.passwords.get(user)
    return expected is not None and hmac.compare_digest(expected.encode(), password.encode())


def sign_in_panel(cfg: AuthConfig) -> str | None:
    """Render who is signed in (with sign-out) or the sign-in control; returns the user."""
    user = current_user(cfg)
    if cfg.mode == NONE:
        st.info("Viewing only: no sign-in is configured.")
        with st.expander("How to allow writes"):
            st.markdown(HOW_TO)
        return None
    if user:
        role = "may write" if may_write(cfg, user) else "not on the writers allowlist: read only"
        left, right = st.columns([4, 1])
        left.markdown(f"Signed in as **{user}** ({role}).")
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
            if check_password(cfg, name, password):
                st.session_state[_USER] = name
                st.rerun()
            st.error("Unknown user or wrong password.")
    return None
