"""Greeks: sigma depth and win rate over time, IV/RV of wins and losses against the calibrated
band (degenerate solves counted and listed apart, never drawn or averaged), win/loss centroids
of |Γ| and |Δ| (with what Δ per 1% means), the gamma regime of open positions, and how well fair
value N(d2) predicted outcomes; of the selected run(s)."""

import altair as alt
import streamlit as st

from engine.core.pricing.vol import IV_RV_SANE
from ui import queries as q
from ui import run_picker as picker

url = q.db_url()
st.title("Greeks")
if not q.has_ledger(url):
    st.warning(f"No ledger at {url}: run `edgeloop` (or `make run`) first.")
    st.stop()
runs = picker.selected()
st.caption(f"Greeks of {picker.shown(url)}")

UNIT = alt.Scale(domain=[0, 1])
OUTCOME = alt.Scale(domain=["win", "loss"], range=["#2e7d32", "#c62828"])

# What delta_1pct means, next to every place it is shown (docs/pricing.md has the derivation).
DELTA_NOTE = (
    "Δ per 1% (`delta_1pct` = delta × S / 100): the change of the contract's fair value, in "
    "dollars per share (0.01 = one probability point), for a 1% move of spot, to first order. "
    "A short binary near the strike has a Δ per 1% above 1: with 5 minutes left at 60% vol a "
    "1% move of spot is 5.4 standard deviations, and at the strike Δ per 1% is 2.16. Read it as "
    "a slope: a 0.1% move shifts fair value by about 0.22; a whole 1% move can only take it "
    "from 0.50 to 1.00."
)

PERIODS = {"15 min": "15min", "1 hour": "1h", "4 hours": "4h", "1 day": "1D"}
head, pick = st.columns([4, 1], vertical_alignment="bottom")
head.subheader("Sigma depth and win rate")
period = pick.selectbox("per", list(PERIODS), index=1, key="greeks_period")
depth = q.sigma_depth(url, runs, PERIODS[period])
if depth.empty:
    st.caption("No filled entry with a measured move yet.")
else:
    left, right = st.columns(2)
    base = alt.Chart(depth).encode(
        x=alt.X("period:T", title=f"per {period} (engine time, UTC)"),
        color=alt.Color("strategy:N"),
        tooltip=["period:T", "strategy:N", "entries:Q", "mean_abs_z:Q", "wins:Q", "resolved:Q"],
    )
    sigma = base.mark_line(point=True).encode(y=alt.Y("mean_abs_z:Q", title="mean |z| (σ)"))
    wins = base.mark_line(point=True).encode(
        y=alt.Y("win_rate:Q", title="win rate", axis=alt.Axis(format="%"), scale=UNIT)
    )
    left.altair_chart(sigma.properties(title="How deep a move entries need"), width="stretch")
    right.altair_chart(wins.properties(title="Win rate of those that resolved"), width="stretch")

st.subheader("IV/RV of wins and losses")
ivrv = q.iv_rv_outcomes(url, runs)
band = q.vol_band(url, runs)
# A degenerate solve (IV/RV outside IV_RV_SANE) says nothing of the book's view of vol: it is
# counted and listed, never drawn among the others nor averaged into their centroids.
sane = ivrv[~ivrv["degenerate"]]
degenerate = ivrv[ivrv["degenerate"]]
if ivrv.empty:
    st.caption("No resolved entry with an IV/RV yet.")
else:
    by_outcome = alt.YOffset("outcome:N", scale=alt.Scale(domain=["win", "loss"]))
    log_x = alt.X("iv_rv:Q", title="IV / RV at entry (log scale)", scale=alt.Scale(type="log"))
    ticks = (
        alt.Chart(sane)
        .mark_tick(thickness=2, opacity=0.6)
        .encode(
            x=log_x,
            y=alt.Y("strategy:N", title=None),
            yOffset=by_outcome,
            color=alt.Color("outcome:N", scale=OUTCOME),
            tooltip=["ts:T", "strategy:N", "outcome:N", "iv_rv:Q"],
        )
    )
    centroid = (
        alt.Chart(sane)
        .mark_point(shape="diamond", filled=True, size=140, stroke="black", strokeWidth=1)
        .encode(
            x=alt.X("mean(iv_rv):Q"),
            y=alt.Y("strategy:N", title=None),
            yOffset=by_outcome,
            color=alt.Color("outcome:N", scale=OUTCOME),
            tooltip=["strategy:N", "outcome:N", alt.Tooltip("mean(iv_rv):Q", title="mean IV/RV")],
        )
    )
    layers = ticks + centroid
    if not band.empty:
        shade = (
            alt.Chart(band)
            .mark_bar(fillOpacity=0.12, color="#1565c0", stroke="#1565c0", strokeWidth=2)
            .encode(
                x="low:Q", x2="high:Q", y="strategy:N", tooltip=["strategy:N", "low:Q", "high:Q"]
            )
        )
        layers = layers + shade
    st.altair_chart(layers.properties(height=70 * ivrv["strategy"].nunique() + 40), width="stretch")
    low, high = IV_RV_SANE
    st.caption(
        f"Diamonds: the mean IV/RV of the wins and of the losses per strategy. "
        f"{len(degenerate)} degenerate solves excluded (IV/RV outside [{low:g}, {high:g}]) from "
        "the ticks and the means: near expiry a tick of price is a world of vol, so the solve "
        "gives an implied vol of almost 0 or of thousands of percent."
    )
    if not degenerate.empty:
        with st.expander(f"The {len(degenerate)} degenerate solves"):
            st.dataframe(
                degenerate[["ts", "strategy", "outcome", "iv_rv"]],
                hide_index=True,
                column_config={
                    "ts": st.column_config.DatetimeColumn("entry (UTC)", format="MM-DD HH:mm:ss"),
                    "iv_rv": st.column_config.NumberColumn("IV / RV", format="%.4g"),
                },
            )
    if band.empty:
        st.caption(
            "No calibrated IV/RV band yet: the calibrator moves `gates.vol_band` only for a "
            "strategy that composes that gate (`+gate@strategies.updown.gates.vol_band=vol_band`)."
        )
    else:
        st.caption("Outlined: the calibrated IV/RV band (latest calibration per strategy).")

st.subheader("Win/loss centroids of |Γ| and |Δ|")
st.caption(DELTA_NOTE)
cents = q.centroids(url, runs)
if cents.empty:
    st.info(
        "No calibration yet: the calibrator records each strategy's win and loss centroids "
        "once it has resolved entries to learn from."
    )
else:
    left, right = st.columns(2)
    latest = (
        alt.Chart(cents)
        .transform_filter(alt.datum.latest)
        .mark_point(filled=True, size=160)
        .encode(
            x=alt.X("abs_delta:Q", title="|Δ| per 1% move"),
            y=alt.Y("abs_gamma:Q", title="|Γ| per 1% move"),
            color=alt.Color("outcome:N", scale=OUTCOME),
            shape=alt.Shape("strategy:N"),
            tooltip=["strategy:N", "outcome:N", "n:Q", "abs_gamma:Q", "abs_delta:Q", "iv_rv:Q"],
        )
    )
    trend = (
        alt.Chart(cents)
        .mark_line()
        .encode(
            x=alt.X("ts:T", title="calibration (engine time)"),
            y=alt.Y("abs_gamma:Q", title="|Γ| centroid"),
            color=alt.Color("outcome:N", scale=OUTCOME),
            strokeDash=alt.StrokeDash("strategy:N"),
            tooltip=["ts:T", "strategy:N", "outcome:N", "n:Q", "abs_gamma:Q", "applied:N"],
        )
    )
    left.altair_chart(latest.properties(title="Latest centroids"), width="stretch")
    right.altair_chart(trend.properties(title="|Γ| centroids over time"), width="stretch")

st.subheader("Gamma regime of open positions")
opened = q.open_gamma(url, runs)
if opened.empty:
    st.caption("No open position.")
else:
    concave = opened[opened["gamma_regime"] == q.NEG_GAMMA]
    convex = opened[opened["gamma_regime"] == q.POS_GAMMA]
    a, b = st.columns(2)
    a.metric(q.NEG_GAMMA, len(concave), help="in the money: wants stillness (a move can flip it)")
    b.metric(q.POS_GAMMA, len(convex), help="at or out of the money: wants movement")
    st.dataframe(
        opened,
        hide_index=True,
        column_config={
            "opened_at": st.column_config.DatetimeColumn("opened (UTC)", format="MM-DD HH:mm:ss"),
            "gamma_1pct": st.column_config.NumberColumn("Γ per 1% (entry)", format="%+.2f"),
            "delta_1pct": st.column_config.NumberColumn(
                "Δ per 1% (entry)", format="%+.3f", help=DELTA_NOTE
            ),
            "cost": st.column_config.NumberColumn(format="%.2f $"),
        },
    )

st.subheader("Calibration of fair value N(d2)")
cal = q.fair_calibration(url, runs)
if cal.empty:
    st.caption("No resolved entry with a fair value yet.")
else:
    points = alt.Chart(cal).encode(
        x=alt.X("mean_fair:Q", title="fair value at entry (decile mean)", scale=UNIT),
        y=alt.Y("win_rate:Q", title="realized win frequency", scale=UNIT),
        tooltip=["bucket_low:Q", "bucket_high:Q", "n:Q", "mean_fair:Q", "win_rate:Q"],
    )
    bars = points.mark_rule().encode(y="wr_low:Q", y2="wr_high:Q")
    dots = points.mark_circle(color="#1565c0").encode(size=alt.Size("n:Q", title="entries"))
    diagonal = (
        alt.Chart(cal)
        .mark_rule(strokeDash=[4, 4], color="gray")
        .encode(x=alt.datum(0), y=alt.datum(0), x2=alt.datum(1), y2=alt.datum(1))
    )
    st.altair_chart((diagonal + bars + dots).properties(height=380), width="stretch")
    st.caption(
        "Dots on the dashed diagonal: N(d2) priced outcomes right. Bars: Wilson 95% interval."
    )
