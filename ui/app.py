"""The dashboard: ``streamlit run ui/app.py [-- --db URL]`` (default: $EDGELOOP_DB_URL)."""

import argparse
import sys
from pathlib import Path

import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `ui` and `engine` from the repo
from ui import run_picker  # noqa: E402
from ui.queries import db_url, use_database  # noqa: E402

cli = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
cli.add_argument("--db", help="database URL (default: $EDGELOOP_DB_URL, else var/edgeloop.db)")
use_database(cli.parse_known_args()[0].db)
st.set_page_config(page_title="edgeloop", page_icon=":material/monitoring:", layout="wide")
run_picker.sidebar(db_url())  # every page reads the run chosen here (the latest by default)
pages = [
    st.Page("app_pages/live.py", title="Live", icon=":material/sensors:", default=True),
    st.Page("app_pages/ledger.py", title="Ledger", icon=":material/account_balance:"),
    st.Page("app_pages/greeks.py", title="Greeks", icon=":material/function:"),
    st.Page("app_pages/settings.py", title="Settings", icon=":material/tune:"),
]
st.navigation(pages, position="top").run()
