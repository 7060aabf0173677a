"""Proposals: a tuner's parameters, stored but never in force until a human applies them."""

from __future__ import annotations

import pytest

from settings_service import SettingsConflict, SettingsStore, SettingsValidationError
from settings_service.store import StaleProposal, UnknownProposal

SIGMA = "strategies.updown.gates.sigma.min_sigma"
KELLY = "strategies.updown.sizers.kelly.kelly_fraction"


@pytest.fixture
def store(sqlite_url):
    with SettingsStore(sqlite_url) as s:
        yield s


def propose(store, changes, reason="study s trial 3"):
    return store.propose(changes, author="tuner", reason=reason, detail={"trial": 3})


def test_a_proposal_changes_nothing_until_a_human_applies_it(store):
    p = propose(store, {SIGMA: 2})
    assert (p.id, p.author_kind, p.based_on, p.applied_version) == (1, "tuner", 0, None)
    assert p.changes == {SIGMA: 2.0} and p.detail == {"trial": 3}
    assert store.current().id == 0  # nothing in force
    v = store.apply_proposal(1, author="alice", reason="looks right")
    assert (v.id, v.author, v.author_kind, v.document) == (1, "alice", "human", {SIGMA: 2.0})
    assert store.get_proposal(1).applied_version == 1
    assert [q.id for q in store.proposals()] == [1]


def test_a_proposal_is_applied_once(store):
    propose(store, {SIGMA: 2})
    store.apply_proposal(1, author="alice", reason="ok")
    with pytest.raises(
        SettingsValidationError, match="proposal=1 was applied already, as version 1"
    ):
        store.apply_proposal(1, author="bob", reason="again")
    assert store.current().id == 1


def test_a_stale_proposal_is_refused(store):
    propose(store, {SIGMA: 2})
    store.write({KELLY: 0.1}, author="bob", author_kind="human", reason="x", expected_version=0)
    with pytest.raises(StaleProposal, match="proposal 1 is stale: it was made on version 0, and "
                       r"version 1 has been written since \(written by bob \(human\)") as err:  # fmt: skip
        store.apply_proposal(1, author="alice", reason="ok")
    assert isinstance(err.value, SettingsConflict)
    assert store.current().id == 1 and store.get_proposal(1).applied_version is None
    assert propose(store, {SIGMA: 2}).based_on == 1  # proposing again bases it on the latest


def test_only_a_human_applies_and_no_proposal_touches_a_protected_key(store):
    propose(store, {SIGMA: 2})
    with pytest.raises(SettingsValidationError, match="only a human applies a proposal"):
        store.apply_proposal(1, author="gov", reason="auto", author_kind="governor")
    with pytest.raises(SettingsValidationError, match="kill_switch=True is protected"):
        propose(store, {"kill_switch": True})
    with pytest.raises(SettingsValidationError, match="author_kind='human' must be one of"):
        store.propose({SIGMA: 2}, author="x", reason="y", author_kind="human")


def test_a_proposal_is_validated_like_a_write(store):
    with pytest.raises(SettingsValidationError, match="nope=1 is not a known setting"):
        propose(store, {"nope": 1})
    with pytest.raises(SettingsValidationError, match=SIGMA):
        propose(store, {SIGMA: -3})
    assert store.proposals() == []


def test_an_unknown_proposal_is_named(store):
    with pytest.raises(
        UnknownProposal, match="unknown proposal 4 .this database holds no proposal"
    ):
        store.apply_proposal(4, author="alice", reason="ok")
    propose(store, {SIGMA: 2})
    with pytest.raises(UnknownProposal, match=r"unknown proposal 4 \(proposals are 1..1\)"):
        store.get_proposal(4)
