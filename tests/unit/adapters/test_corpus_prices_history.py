"""The coarse /prices-history zips (marks and plots only, never fills)."""

from __future__ import annotations

import json
import zipfile
from datetime import date

import pytest

from engine.adapters.corpus.errors import CorpusError
from engine.adapters.corpus.layout import CorpusLayout
from engine.adapters.corpus.prices_history import read_prices_history

# The two tokens of the real btc-updown-5m-1773307200 market (tests/fixtures/corpus).
UP = "104239898038807136052399800151408521467737075933964991162589336683346093173875"
DOWN = "71183960810705820955071415844881728181970340514894896943812046065452395013351"
T0 = 1773307200


def history_zip(tmp_path, members: dict[str, object]):
    path = CorpusLayout(tmp_path).prices_history_path("btc-updown-5m", date(2026, 3, 12))
    path.parent.mkdir(parents=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, obj in members.items():
            zf.writestr(name, obj if isinstance(obj, str) else json.dumps(obj))
    return path


def series(points):
    return {"history": [{"t": t, "p": p} for t, p in points]}


def test_one_series_per_token_member(tmp_path):
    path = history_zip(
        tmp_path,
        {
            f"{UP}.json": series([(T0, 0.505), (T0 + 60, 0.52), (T0 + 120, 0.55)]),
            f"{DOWN}.json": series([(T0, 0.495), (T0 + 60, 0.48)]),
        },
    )
    got = {h.token_id: h for h in read_prices_history(path)}
    assert got[UP].t.tolist() == [T0, T0 + 60, T0 + 120]
    assert got[UP].p.tolist() == [0.505, 0.52, 0.55]
    assert len(got[DOWN]) == 2


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ({"up.json": series([])}, "zip member: got 'up.json', expected <token_id>.json"),
        ({f"{UP}.json": "{"}, f"member {UP}.json: .*expected valid JSON"),
        (
            {f"{UP}.json": [1, 2]},
            rf"member {UP}\.json: got 'list', expected an object \{{\"history\"",
        ),
        (
            {f"{UP}.json": series([(T0 * 1000, 0.5)])},
            rf"member {UP}\.json, history\[0\]\.t: got 1773307200000, expected epoch seconds",
        ),
        (
            {f"{UP}.json": series([(T0, 0.5), (T0 - 60, 0.5)])},
            rf"member {UP}\.json, history\[1\]\.t: .*points in time order",
        ),
        (
            {f"{UP}.json": series([(T0, 1.5)])},
            rf"member {UP}\.json, history\[0\]\.p: got 1.5, expected a price in \[0, 1\]",
        ),
    ],
)
def test_bad_members_are_refused_with_the_member_and_point(tmp_path, members, message):
    with pytest.raises(CorpusError, match=rf"btc-updown-5m-2026-03-12\.zip: {message}"):
        list(read_prices_history(history_zip(tmp_path, members)))


def test_a_corrupt_zip_is_refused(tmp_path):
    path = history_zip(tmp_path, {f"{UP}.json": series([(T0, 0.5)])})
    path.write_bytes(path.read_bytes()[:30])
    with pytest.raises(CorpusError, match="expected a readable zip"):
        list(read_prices_history(path))
