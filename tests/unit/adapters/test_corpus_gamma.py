"""Gamma market files -> CorpusMarket, on the real market objects in tests/fixtures/corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.adapters.corpus.errors import CorpusError
from engine.adapters.corpus.gamma import (
    CRYPTO_FEE_RATE,
    iter_markets,
    parse_market,
    read_market,
    split_resolved,
)
from engine.adapters.corpus.layout import CorpusLayout
from engine.core.types import DOWN, UP, UPDOWN

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "corpus"
LAYOUT = CorpusLayout(CORPUS)
BTC = "btc-updown-5m-1773307200"
YES = "russia-x-ukraine-ceasefire-by-end-of-2027"
SPORTS = "cs2-faze-ill-2026-04-05"
BTC_UP = "104239898038807136052399800151408521467737075933964991162589336683346093173875"
BTC_DOWN = "71183960810705820955071415844881728181970340514894896943812046065452395013351"


def raw(slug: str) -> dict:
    return json.loads(LAYOUT.market_path(slug).read_text())


def test_the_btc_5m_market_as_gamma_sends_it():
    m = read_market(LAYOUT.market_path(BTC))
    assert (m.slug, m.market_id) == (BTC, "1557558")
    assert m.condition_id == "0x78443f961b9a65869dcb39359de9960165c7e5cbad0904eac7f29cd77872a63b"
    assert (m.up_token, m.down_token) == (BTC_UP, BTC_DOWN)  # strings, all 78 digits kept
    assert (m.up_label, m.down_label) == ("Up", "Down")
    assert m.strike_ts == 1773307200.0  # eventStartTime 2026-03-12T09:20:00Z, the slug's epoch
    assert m.expiry_ts == 1773307500.0  # endDate 09:25:00Z (startDate is only the listing)
    assert (m.symbol, m.window_s) == ("BTCUSDT", 300)
    assert (m.tick, m.min_size) == (0.01, 5.0)
    assert (m.fee_rate, m.fee_exponent) == (CRYPTO_FEE_RATE, 1.0) == (0.07, 1.0)  # no schedule
    assert not m.neg_risk
    assert m.source == LAYOUT.market_path(BTC)


def test_an_open_market_is_unresolved_and_never_guessed():
    m = read_market(LAYOUT.market_path(BTC))  # outcomePrices 0.505/0.495, closed false
    assert m.outcome is None and not m.resolved
    assert "not closed" in m.unresolved
    with pytest.raises(
        CorpusError, match=rf"{BTC}\.json: fields closed/outcomePrices: got .*not closed"
    ):
        m.require_outcome()


def test_a_closed_1_0_market_resolves_to_its_first_outcome():
    m = read_market(LAYOUT.market_path(YES))
    assert m.outcome == UP == m.require_outcome() and m.unresolved is None
    assert (m.up_label, m.down_label) == ("Yes", "No")
    assert m.up_token.startswith("229787932230718922")
    assert m.strike_ts is None and m.symbol is None and m.window_s is None  # no window
    assert m.fee_rate == 0.0  # feesEnabled false


def test_a_fee_schedule_sets_rate_and_exponent():
    m = read_market(LAYOUT.market_path(SPORTS))
    assert (m.fee_rate, m.fee_exponent) == (0.03, 1.0)
    assert m.tick == 0.001
    assert (m.up_label, m.outcome) == ("FaZe", UP)  # not Up/Yes labels: the first outcome
    assert m.strike_ts == 1775401800.0  # eventStartTime 2026-04-05T15:10:00Z


def test_the_nested_markets_of_a_negrisk_event_parse():
    events = json.loads((CORPUS / "formats" / "gamma_events_negrisk.json").read_text())
    markets = [parse_market(m, "gamma_events_negrisk.json") for e in events for m in e["markets"]]
    assert len(markets) == 2 and all(m.neg_risk for m in markets)
    assert all(m.up_label == "Yes" and m.outcome is None for m in markets)
    assert {m.tick for m in markets} == {0.001}


def test_a_down_win_and_a_swapped_outcome_order():
    obj = raw(BTC)
    obj.update(closed=True, outcomePrices='["0", "1"]')
    assert parse_market(obj).outcome == DOWN
    # The same market listed Down first: tokens and prices follow the labels, not positions.
    obj.update(
        outcomes='["Down", "Up"]',
        outcomePrices='["0", "1"]',
        clobTokenIds=json.dumps([BTC_DOWN, BTC_UP]),
    )
    m = parse_market(obj)
    assert (m.up_token, m.down_token, m.outcome) == (BTC_UP, BTC_DOWN, UP)


def test_a_50_50_close_is_unresolved():
    obj = raw(SPORTS)
    obj["outcomePrices"] = '["0.5", "0.5"]'
    m = parse_market(obj, "x.json")
    assert m.outcome is None and "50-50" in m.unresolved


def test_real_arrays_are_accepted_as_well_as_json_strings():
    obj = raw(BTC)
    for key in ("outcomes", "outcomePrices", "clobTokenIds"):
        obj[key] = json.loads(obj[key])
    path = LAYOUT.market_path(BTC)
    assert parse_market(obj, path) == read_market(path)


def test_to_market_gives_the_engine_market():
    m = read_market(LAYOUT.market_path(BTC)).to_market(strike=70123.5)
    assert (m.market_id, m.symbol, m.window_s, m.kind) == (BTC, "BTCUSDT", 300, UPDOWN)
    assert (m.start_ts, m.end_ts, m.strike) == (1773307200.0, 1773307500.0, 70123.5)
    assert (m.up_token, m.down_token, m.fee_rate) == (BTC_UP, BTC_DOWN, 0.07)
    with pytest.raises(CorpusError, match="field slug"):
        read_market(LAYOUT.market_path(YES)).to_market(1.0)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {
                "clobTokenIds": "[104239898038807136052399800151408521467737075933964991162589336683346093173875"
            },
            r"field clobTokenIds: got '\[1042.*expected a JSON array of 2 strings",
        ),
        (
            {"clobTokenIds": '["0xabc", "123"]'},
            "field clobTokenIds: got '0xabc', expected decimal token id strings",
        ),
        ({"outcomes": '["Up"]'}, "field outcomes"),
        (
            {"endDate": "2026-03-12 09:25"},
            r"field endDate: got '2026-03-12 09:25', expected an ISO-8601 UTC time",
        ),
        (
            {"eventStartTime": "2026-03-12T09:15:00Z"},
            "field eventStartTime: got 1773306900.0, expected the slug's window start 1773307200",
        ),
        (
            {"endDate": "2026-03-12T09:30:00Z"},
            r"field endDate: .*expected window start 1773307200 \+ 300 s",
        ),
        ({"orderMinSize": None}, r"field orderMinSize: got None, expected a number in \(0, inf\]"),
        ({"orderPriceMinTickSize": "0.01c"}, "field orderPriceMinTickSize"),
        ({"closed": "false"}, "field closed: got 'false', expected true or false"),
        ({"outcomePrices": '["1", "zero"]'}, "field outcomePrices: .*expected two decimal prices"),
        ({"feeSchedule": {"rate": -1}}, r"field rate: got -1, expected a number in \[0, 1\]"),
        ({"conditionId": "0x78443f"}, "field conditionId"),
    ],
)
def test_bad_fields_name_the_file_field_value_and_rule(change, message):
    obj = {**raw(BTC), **change}
    with pytest.raises(CorpusError, match=rf"^mkt\.json: {message}"):
        parse_market(obj, "mkt.json")


def test_a_file_whose_slug_is_not_its_name_or_not_json_is_refused(tmp_path):
    wrong = tmp_path / "btc-updown-5m-1773307500.json"
    wrong.write_text(json.dumps(raw(BTC)))
    with pytest.raises(CorpusError, match=f"field slug: got '{BTC}', expected the file's name"):
        read_market(wrong)
    broken = tmp_path / f"{BTC}.json"
    broken.write_text(LAYOUT.market_path(BTC).read_text()[:500])
    with pytest.raises(CorpusError, match=rf"{BTC}\.json: line \d+: .*expected valid JSON"):
        read_market(broken)


def test_a_corpus_lists_its_markets_and_splits_the_unresolved():
    assert LAYOUT.market_slugs() == [BTC, SPORTS, YES]
    resolved, unresolved = split_resolved(iter_markets(CORPUS))
    assert [m.slug for m in resolved] == [SPORTS, YES]
    assert [m.slug for m in unresolved] == [BTC]


def test_fees_off_means_no_fee_even_with_a_schedule():
    obj = {**raw(SPORTS), "feesEnabled": False}
    assert parse_market(obj).fee_rate == 0.0
    obj = raw(SPORTS)
    del obj["feeSchedule"]
    assert parse_market(obj).fee_rate == CRYPTO_FEE_RATE  # enabled, no schedule: the default
