"""The store on the embedded SQLite file: versions, diff, rollback, explain, conflicts."""

from __future__ import annotations

import pytest

from settings_service import (
    SettingsConflict,
    SettingsStore,
    SettingsValidationError,
    UnknownVersion,
)
from settings_service.store import diff_documents, libpq_url, resolve_url, sqlalchemy_url

SIGMA = "strategies.updown.gates.sigma.min_sigma"
KELLY = "strategies.updown.sizers.kelly.kelly_fraction"


@pytest.fixture
def store(sqlite_url):
    with SettingsStore(sqlite_url) as s:
        yield s


def write(store, changes, expected, kind="human"):
    return store.write(
        changes, author="t", author_kind=kind, reason="test", expected_version=expected
    )


def test_version_zero_is_the_empty_document(store):
    v = store.current()
    assert (v.id, v.document, v.parent_id) == (0, {}, None)
    assert [h.id for h in store.history()] == [0]


def test_writes_make_a_line_of_versions_with_diffs(store):
    v1 = write(store, {SIGMA: 2}, 0)
    v2 = write(store, {KELLY: 0.1}, 1, kind="governor")
    v3 = write(store, {SIGMA: None}, 2)
    assert (v1.id, v1.parent_id, v2.parent_id, v3.parent_id) == (1, 0, 1, 2)
    assert v1.diff == {SIGMA: [None, 2.0]}
    assert v2.document == {SIGMA: 2.0, KELLY: 0.1}
    assert v3.document == {KELLY: 0.1} and v3.diff == {SIGMA: [2.0, None]}
    assert store.current() == v3
    assert [v.id for v in store.history()] == [3, 2, 1, 0]
    assert [v.id for v in store.history(limit=2)] == [3, 2]
    assert store.diff(1, 3) == {SIGMA: [2.0, None], KELLY: [None, 0.1]}
    assert store.diff(0, 2) == {KELLY: [None, 0.1], SIGMA: [None, 2.0]}
    assert v2.author_kind == "governor" and v2.created_at.tzinfo is not None


def test_a_stale_write_is_a_conflict_and_writes_nothing(store):
    write(store, {SIGMA: 2.0}, 0)
    with pytest.raises(SettingsConflict, match="expected version 0 but the latest is 1") as info:
        write(store, {SIGMA: 3.0}, 0)
    assert (info.value.expected, info.value.latest) == (0, 1)
    with pytest.raises(SettingsConflict, match="expected version 7"):
        write(store, {SIGMA: 3.0}, 7)
    assert store.current().id == 1 and store.current().document == {SIGMA: 2.0}


def test_rollback_writes_a_new_version_equal_to_an_old_one(store):
    write(store, {SIGMA: 2.0, KELLY: 0.1}, 0)
    write(store, {SIGMA: 3.3, "venue.slippage_ticks": 2, KELLY: None}, 1)
    v3 = store.rollback(1, author="t", reason="undo")
    assert v3.id == 3 and v3.rollback_of == 1
    assert v3.document == store.get(1).document
    assert store.diff(1, 3) == {}
    v4 = store.rollback(0, author="t", reason="all defaults")
    assert v4.document == {}
    with pytest.raises(UnknownVersion, match="unknown settings version 9"):
        store.rollback(9, author="t", reason="x")


def test_rollback_is_validated_like_a_write(store):
    write(store, {"kill_switch": True}, 0)
    write(store, {"kill_switch": False}, 1)
    with pytest.raises(SettingsValidationError, match="kill_switch=True is protected"):
        store.rollback(1, author="gov", reason="x", author_kind="governor")
    assert store.current().id == 2


def test_explain_names_the_version_that_last_set_the_key(store):
    write(store, {SIGMA: 2.0}, 0)
    write(store, {KELLY: 0.1}, 1)
    got = store.explain(SIGMA, defaults={SIGMA: 1.5})
    assert got.value == 2.0 and got.layer == "settings version" and got.version.id == 1
    assert store.explain(KELLY).version.id == 2
    assert store.explain("kill_switch").layer is None
    with pytest.raises(SettingsValidationError, match="nope"):
        store.explain("nope")


def test_write_metadata_is_required(store):
    with pytest.raises(SettingsValidationError, match="reason"):
        store.write({SIGMA: 2.0}, author="t", author_kind="human", reason=" ", expected_version=0)
    with pytest.raises(SettingsValidationError, match="author"):
        store.write({SIGMA: 2.0}, author="", author_kind="human", reason="r", expected_version=0)
    assert store.current().id == 0


def test_floats_round_trip_exactly(store):
    value = 0.1 + 0.2
    write(store, {SIGMA: value}, 0)
    assert store.current().document[SIGMA] == value


def test_url_rules(monkeypatch):
    monkeypatch.delenv("EDGELOOP_DB_URL", raising=False)
    assert resolve_url() == "sqlite:///var/edgeloop.db"
    monkeypatch.setenv("EDGELOOP_DB_URL", "sqlite:///x.db")
    assert resolve_url() == "sqlite:///x.db" and resolve_url("sqlite:///y.db") == "sqlite:///y.db"
    assert sqlalchemy_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert libpq_url("postgresql+psycopg://u:p@h:5/db") == "postgresql://u:p@h:5/db"
    with pytest.raises(ValueError):
        libpq_url("sqlite:///x.db")


def test_diff_documents():
    assert diff_documents({"a": 1, "b": 2}, {"b": 3, "c": 4}) == {
        "a": [1, None],
        "b": [2, 3],
        "c": [None, 4],
    }
