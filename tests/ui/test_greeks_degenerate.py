"""The Greeks page on a hand-built ledger (issue 15): degenerate IV/RV solves are counted and kept
out of the chart and its centroids, and delta_1pct says what it means."""

from __future__ import annotations

import json

import pyarrow as pa

from tests.unit.ledger.test_degenerate import seed


def texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def iv_rv_chart_values(at) -> list[float]:
    """The IV/RV values the page's IV/RV chart was given (the one chart encoding ``iv_rv``)."""
    values = []
    for chart in at.get("vega_lite_chart"):
        spec = json.dumps(json.loads(chart.proto.spec))
        if "IV / RV at entry" not in spec:
            continue
        for d in chart.proto.datasets:
            table = pa.ipc.open_stream(d.data.data).read_all()
            if "iv_rv" in table.column_names and "outcome" in table.column_names:
                values += table.column("iv_rv").to_pylist()
    return values


def test_degenerate_solves_are_counted_and_kept_out_of_the_chart(app, sqlite_url):
    seed(sqlite_url)
    at = app(sqlite_url, "Greeks")
    assert not at.exception, [e.value for e in at.exception]
    captions = texts(at.caption)
    assert "3 degenerate solves excluded" in captions
    assert "outside [0.05, 20]" in captions
    assert sorted(iv_rv_chart_values(at)) == [0.9, 1.2]
    # the excluded rows are listed, flagged, not dropped silently
    (listed,) = [d.value for d in at.dataframe if "iv_rv" in d.value.columns]
    assert sorted(listed["iv_rv"].tolist()) == [0.0, 0.01, 10_000.0]


def test_the_page_says_what_delta_1pct_means(app, sqlite_url):
    seed(sqlite_url)
    at = app(sqlite_url, "Greeks")
    captions = texts(at.caption)
    assert "Δ per 1%" in captions and "a 1% move of spot" in captions
    assert "2.16" in captions  # the worked example: 5 minutes left, at the strike
