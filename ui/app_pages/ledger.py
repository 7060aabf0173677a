"""Ledger of the selected run(s): per strategy and total, win rate beside break-even, P&L after
fees, p-value, Wilson interval; the equity curve, the skip mix, every trade (CSV) and the runs."""

import altair as alt
import pandas as pd
import streamlit as st

from ui import queries as q
from ui import run_picker as picker
from ui.fmt import pct, pval, usd

url = q.db_url()
st.title("Ledger")
if not q.has_ledger(url):
    st.warning(f"No ledger at {url}: run `edgeloop` (or `make run`) first.")
    st.stop()
runs = picker.selected()
st.caption(f"Ledger of {picker.shown(url)}")

names = q.strategies(url, runs)["strategy"].tolist()
everything = q.trades(url, runs)
left, right = st.columns([3, 2])
picked = left.multiselect("Strategies", names, default=names, placeholder="all strategies")
chosen = None if not picked or set(picked) == set(names) else tuple(sorted(picked))
start = end = None
if not everything.empty:
    first, last = everything["settled_at"].min().date(), everything["settled_at"].max().date()
    span = right.date_input(
        "Settled between (UTC)", value=(first, last), min_value=first, max_value=last
    )
    lo, hi = (span[0], span[-1]) if span else (first, last)
    start, end = (None, None) if (lo, hi) == (first, last) else (lo, hi)

summary = q.ledger_summary(url, runs, chosen, start, end)
total = summary[summary["strategy"] == "total"].iloc[0]
filtered = chosen is not None or start is not None
a, b, c, d, e = st.columns(5)
a.metric("Trades", int(total["trades"]), help="resolved filled orders; an arb's legs are one")
gap = abs(total["win_rate_shares"] - total["breakeven_win_rate_shares"])
b.metric(
    "Win rate per share",
    pct(total["win_rate_shares"]),
    delta=None if pd.isna(gap) else
    f"{'-' if total['pnl'] < 0 else '+'}{100 * gap:.1f} pp vs break-even",
    help="shares won / shares bought; minus the break-even per share it is P&L / shares, so only "
    "a positive delta pays (the per-trade WR is in the table)",
)  # fmt: skip
c.metric(
    "Break-even per share",
    pct(total["breakeven_win_rate_shares"]),
    help="(cost + fees) / shares: the fee-inclusive price paid per share",
)
d.metric("P&L after fees", usd(total["pnl"], sign=True), help=f"fees paid {usd(total['fees'])}")
e.metric(
    "p-value",
    pval(total["p_value"]),
    help="P(wins >= observed) if each directional trade won with its own break-even price "
    "(Poisson-binomial); arb groups are not in it",
)
if total["trades"]:
    (st.warning if total["pnl"] < 0 else st.success)(f"Verdict: {total['verdict']}.")

st.dataframe(
    summary,
    hide_index=True,
    column_config={
        "win_rate": st.column_config.NumberColumn("WR", format="percent"),
        "breakeven_win_rate": st.column_config.NumberColumn("break-even WR", format="percent"),
        "win_rate_shares": st.column_config.NumberColumn("WR/share", format="percent"),
        "breakeven_win_rate_shares": st.column_config.NumberColumn(
            "break-even/share", format="percent"
        ),
        "pnl": st.column_config.NumberColumn("P&L after fees", format="%+.2f $"),
        "fees": st.column_config.NumberColumn(format="%.2f $"),
        "p_value": st.column_config.NumberColumn("p-value", format="%.3g"),
        "arb_trades": st.column_config.NumberColumn("arb trades"),
        "arb_pnl": st.column_config.NumberColumn("arb P&L", format="%+.2f $"),
        "wr_low": st.column_config.NumberColumn("WR 95% low", format="percent"),
        "wr_high": st.column_config.NumberColumn("WR 95% high", format="percent"),
    },
)
notes = q.ledger_notes(url, runs).iloc[0]
st.caption(
    "P&L is after fees, in USD, over resolved trades. Break-even = fee-inclusive entry price. WR "
    "and break-even WR count each trade once; per share they weigh trades by shares, and WR/share "
    "minus break-even/share is P&L / shares (the verdict). p-value = P(wins >= observed) if each "
    "directional trade won with its own break-even price (Poisson-binomial; small = not a coin "
    "flip); arb groups are in the rows but not in it. WR 95% = Wilson score interval."
    + (" Filtered: the total covers the selection only." if filtered else "")
    + (
        f" Open (unresolved): {int(notes['open_orders'])} orders, "
        f"{usd(notes['open_cost'])} at stake, not counted."
        if notes["open_orders"]
        else ""
    )
)

st.subheader("Equity")
equity = q.equity_curve(url, runs, chosen, start, end)
if equity.empty:
    st.caption("No settled position yet.")
else:
    per_strategy = (
        alt.Chart(equity)
        .mark_line(interpolate="step-after", strokeWidth=1.5)
        .encode(
            x=alt.X("closed_at:T", title="settled (engine time, UTC)"),
            y=alt.Y("strategy_equity:Q", title="cumulative P&L after fees ($)"),
            color=alt.Color("strategy:N", title="strategy"),
            tooltip=["closed_at:T", "strategy:N", "pnl:Q", "strategy_equity:Q"],
        )
    )
    overall = (
        alt.Chart(equity)
        .mark_line(interpolate="step-after", strokeWidth=3, color="#333")
        .encode(x="closed_at:T", y="equity:Q", tooltip=["closed_at:T", "equity:Q"])
    )
    st.altair_chart((per_strategy + overall).properties(height=320), width="stretch")
    st.caption("Thick line: all selected strategies; thin lines: each strategy.")

st.subheader("Skip mix")
mix = q.skip_mix(url, runs, chosen)
if mix.empty:
    st.caption("No rejected candidate.")
else:
    heat = (
        alt.Chart(mix)
        .mark_rect()
        .encode(
            x=alt.X("strategy:N", title=None),
            y=alt.Y(
                "reason:N", title=None, sort=alt.EncodingSortField("count", "sum", "descending")
            ),
            color=alt.Color(
                "count:Q", scale=alt.Scale(scheme="blues", type="log"), title="rejected"
            ),
            tooltip=["strategy:N", "reason:N", "count:Q", alt.Tooltip("share:Q", format=".1%")],
        )
    )
    labels = heat.mark_text(fontSize=11).encode(
        text="count:Q",
        color=alt.condition(alt.datum.share > 0.2, alt.value("white"), alt.value("black")),
    )
    st.altair_chart((heat + labels).properties(height=28 * mix["reason"].nunique() + 40))
    st.caption("Rejected candidates per strategy and the first stage that refused them.")

st.subheader("Trades")
shown = q.trades(url, runs, chosen, start, end)
st.download_button(
    "Download CSV",
    shown.to_csv(index=False).encode(),
    file_name="edgeloop-trades.csv",
    mime="text/csv",
)
st.dataframe(
    shown,
    hide_index=True,
    height=360,
    column_config={
        "opened_at": st.column_config.DatetimeColumn("opened", format="MM-DD HH:mm:ss"),
        "settled_at": st.column_config.DatetimeColumn("settled", format="MM-DD HH:mm:ss"),
        "cost": st.column_config.NumberColumn(format="%.2f"),
        "fees": st.column_config.NumberColumn(format="%.3f"),
        "payout": st.column_config.NumberColumn(format="%.2f"),
        "pnl": st.column_config.NumberColumn("P&L", format="%+.2f"),
        "entry_price": st.column_config.NumberColumn("entry (with fees)", format="%.3f"),
        "fair": st.column_config.NumberColumn(format="%.3f"),
        "z": st.column_config.NumberColumn(format="%+.2f"),
        "run_id": st.column_config.NumberColumn("run"),
    },
)

st.subheader("Runs")
st.dataframe(
    q.runs_table(url),
    hide_index=True,
    column_order=[
        "id",
        "name",
        "mode",
        "feed",
        "seed",
        "status",
        "started_at",
        "first_ts",
        "last_ts",
        "fingerprint",
    ],
    column_config={
        "started_at": st.column_config.DatetimeColumn(
            "started (wall, UTC)", format="YYYY-MM-DD HH:mm:ss"
        ),
        "first_ts": st.column_config.DatetimeColumn("feed from", format="YYYY-MM-DD HH:mm:ss"),
        "last_ts": st.column_config.DatetimeColumn("feed to", format="YYYY-MM-DD HH:mm:ss"),
    },
)
st.caption(
    "Every run of this database, newest first: each start of `edgeloop` is a new run "
    "(`run.resume=` continues one). Feed from/to: the feed time of its first tick and of the "
    "last tick whose writes are stored (simulated time in a simulator run). Pick the run "
    "every page reads in the sidebar."
)
