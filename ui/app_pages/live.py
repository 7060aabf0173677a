"""Live, for the selected run(s): the latest signals, regime, circuit breaker, markets tracked,
heartbeat, settings version."""

import time

import altair as alt
import pandas as pd
import streamlit as st

from ui import queries as q
from ui import run_picker as picker
from ui.fmt import ago, pct

REFRESH_S = 3
url = q.db_url()

st.title("Live")
st.caption(f"Refreshes every {REFRESH_S} s · {url}")


def _when(ts: pd.Timestamp) -> str:
    return "–" if pd.isna(ts) else ts.strftime("%Y-%m-%d %H:%M:%S UTC")


def _clock_advanced(last_write: pd.Timestamp, runs: tuple[int, ...] | None) -> str:
    """How long ago (wall clock) this browser session saw the run's feed clock move."""
    seen = st.session_state.setdefault("live_clock", {"runs": runs, "ts": last_write, "at": None})
    if seen["runs"] != runs:  # another run was picked: nothing seen of it yet
        seen.update(runs=runs, ts=last_write, at=None)
    elif seen["ts"] != last_write:
        seen.update(ts=last_write, at=time.time())
    if seen["at"] is None:
        return "not seen to advance since this page opened"
    return f"advanced {ago(time.time() - seen['at'])} ago"


@st.fragment(run_every=REFRESH_S)
def live() -> None:
    if not q.has_ledger(url):
        st.warning(f"No ledger at {url} yet: start the engine (`make run`) and this page fills in.")
        return
    if picker.stale(url):
        st.rerun()  # a new run started while this page followed the latest: show it
    runs = picker.selected()
    st.markdown(f"**Showing** {picker.shown(url)}")
    s = q.live_status(url, runs).iloc[0]
    regime, breaker = st.columns(2, border=True)
    with regime:
        color = "orange" if s["regime"] == "CHOPPY" else "green"
        st.markdown(f"**Regime** :{color}-badge[{s['regime']}]")
        if pd.isna(s["regime_since"]):
            st.caption("no regime change recorded: CALM since the run began")
        else:
            rate = pct(s["flip_rate"])
            st.caption(f"flip rate {rate} at the change · since {_when(s['regime_since'])}")
    with breaker:
        tripped = s["breaker"] == "tripped"
        badge = ":red-badge[TRIPPED]" if tripped else ":green-badge[ARMED]"
        st.markdown(f"**Circuit breaker** {badge}")
        cause = f"cause {s['breaker_cause']} · " if s["breaker_cause"] else ""
        st.caption(f"{cause}last event {_when(s['breaker_since'])}")

    a, b, c, d, e = st.columns(5)
    a.metric("Markets tracked", int(s["markets_tracked"]), help="listed, not resolved yet")
    b.metric("Open positions", int(s["open_positions"]))
    c.metric("Signals", f"{int(s['signals']):,}", help="every candidate, accepted or not")
    c.caption(f"{int(s['accepted']):,} accepted")
    d.metric(
        "Heartbeat age",
        ago(s["heartbeat_age_s"]),
        help="Now minus the run's last tick (`runs.last_ts`: the feed time through which its "
        "writes are stored). The ledger stores engine time only: in a simulator run that is "
        "simulated time.",
    )
    advanced = _clock_advanced(s["last_write"], runs)
    d.caption(f"last tick {_when(s['last_write'])} (engine clock) · {advanced}")
    version = "–" if pd.isna(s["signals_version"]) else f"v{int(s['signals_version'])}"
    e.metric("Settings version in force", version, help="newest version on recent signals")
    e.caption(f"latest in the store: v{int(s['store_version'])}")

    st.subheader("Signals")
    signals = q.recent_signals(url, runs)
    st.dataframe(
        signals,
        hide_index=True,
        height=420,
        column_config={
            "ts": st.column_config.DatetimeColumn("time (UTC)", format="HH:mm:ss"),
            "price": st.column_config.NumberColumn("ask", format="%.3f"),
            "fair": st.column_config.NumberColumn("fair N(d2)", format="%.3f"),
            "edge": st.column_config.NumberColumn(format="%+.3f"),
            "z": st.column_config.NumberColumn("z (σ)", format="%+.2f"),
            "stake": st.column_config.NumberColumn(format="%.2f $"),
            "settings_version": st.column_config.NumberColumn("settings v"),
            "run_id": st.column_config.NumberColumn("run"),
        },
    )

    history = q.regime_history(url, runs)
    events = q.breaker_events(url, runs)
    left, right = st.columns(2)
    with left:
        st.subheader("Regime changes")
        if history.empty:
            st.caption("No regime change recorded: the regime is CALM until fresh entries flip.")
        else:
            chart = (
                alt.Chart(history)
                .mark_circle(size=80)
                .encode(
                    x=alt.X("ts:T", title="engine time"),
                    y=alt.Y("flip_rate:Q", title="flip rate", axis=alt.Axis(format="%")),
                    color=alt.Color("regime:N", scale=alt.Scale(domain=["CALM", "CHOPPY"])),
                    tooltip=["ts:T", "regime:N", "flip_rate:Q", "sample:Q"],
                )
            )
            st.altair_chart(chart, width="stretch")
    with right:
        st.subheader("Breaker events")
        if events.empty:
            st.caption("No trip or reset recorded.")
        else:
            st.dataframe(events, hide_index=True)


live()
