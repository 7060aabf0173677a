"""The identity rules: names reserved for the engine's writers (under look-alike spellings), the
CLI's author (the OS account, a label beside it) and the store refusing a human named like the
engine."""

from __future__ import annotations

import os
import pwd

import pytest

from settings_service import SettingsStore, SettingsValidationError
from settings_service.identity import (
    author_problem,
    cli_author,
    engine_role_in,
    label_problem,
    os_user,
)

SIGMA = "strategies.updown.gates.sigma.min_sigma"


@pytest.mark.parametrize(
    ("name", "role"),
    [
        ("calibrator", "calibrator"),
        ("Governor", "governor"),
        ("ENGINE", "engine"),
        ("ＣＡＬＩＢＲＡＴＯＲ", "calibrator"),  # full-width
        ("𝐠𝐨𝐯𝐞𝐫𝐧𝐨𝐫", "governor"),  # mathematical bold
        ("саlibrаtоr", "calibrator"),  # Cyrillic а and о
        ("ΕΝGΙΝΕ", "engine"),  # Greek capitals
        ("cálibrator", "calibrator"),  # an accent
        ("cal\u200bibrator", "calibrator"),  # a zero-width space
        ("c.a.l.i.b.r.a.t.o.r", "calibrator"),
        ("g0vern0r", "governor"),
        ("governor-v2", "governor"),
        ("calibrator10", "calibrator"),
        ("the engine", "engine"),
        ("root (via --author: calibrator)", "calibrator"),
    ],
)
def test_a_name_that_reads_as_an_engine_writer_is_found(name, role):
    assert engine_role_in(name) == role


@pytest.mark.parametrize(
    "name", ["alice", "root", "alice@example.com", "engineer", "governance-team", "uid 1000", ""]
)
def test_ordinary_names_are_not_reserved(name):
    assert engine_role_in(name) is None


def test_only_a_human_write_is_refused_a_reserved_name():
    problem = author_problem("Calibrator", "human")
    assert problem is not None and problem.key == "author" and problem.value == "Calibrator"
    assert "reserved for the engine's automated writers" in problem.rule
    assert author_problem("calibrator", "calibrator") is None
    assert author_problem("governor-v1", "governor") is None
    assert author_problem("alice", "human") is None


def test_the_store_refuses_a_human_write_named_like_the_engine(sqlite_url):
    store = SettingsStore(sqlite_url)
    for name in ("calibrator", "ＧＯＶＥＲＮＯＲ", "engine"):
        with pytest.raises(SettingsValidationError, match="reserved") as err:
            store.write(
                {SIGMA: 2.0}, author=name, author_kind="human", reason="r", expected_version=0
            )
        assert err.value.keys == ("author",)
        with pytest.raises(SettingsValidationError, match="reserved"):
            store.rollback(0, author=name, reason="r")  # a rollback is a human's by default
    assert store.latest_id() == 0
    # The engine's own writers keep their names.
    version = store.write(
        {SIGMA: 2.0}, author="calibrator", author_kind="calibrator", reason="r", expected_version=0
    )
    assert (version.author, version.author_kind) == ("calibrator", "calibrator")
    store.close()


def test_the_os_user_is_the_password_databases_not_the_environments(monkeypatch):
    for var in ("USER", "LOGNAME", "USERNAME", "LNAME"):
        monkeypatch.setenv(var, "calibrator")
    assert os_user() == pwd.getpwuid(os.geteuid()).pw_name


def test_a_uid_without_an_entry_is_named_by_its_number(monkeypatch):
    def missing(uid: int) -> pwd.struct_passwd:
        raise KeyError(uid)

    monkeypatch.setattr(pwd, "getpwuid", missing)
    assert os_user() == f"uid {os.geteuid()}"


def test_author_is_the_account_with_the_label_beside_it():
    assert cli_author(None, "root") == "root"
    assert cli_author("  alice ", "root") == "root (via --author: alice)"


@pytest.mark.parametrize(
    ("label", "rule"),
    [
        ("calibrator", "reserved"),
        ("Ｅｎｇｉｎｅ", "reserved"),
        ("alice) (calibrator", "plain text"),
        ("alice\nbob", "plain text"),
        ("   ", "non-empty"),
    ],
)
def test_a_label_that_could_pass_for_someone_else_is_refused(label, rule):
    assert rule in label_problem(label).rule
    with pytest.raises(SettingsValidationError, match=rule) as err:
        cli_author(label, "root")
    assert err.value.keys == ("--author",)
