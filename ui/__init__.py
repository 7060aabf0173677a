"""The Streamlit dashboard: ``app.py`` routes, ``app_pages/`` render, ``queries`` reads."""
