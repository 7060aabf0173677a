"""``db.limits`` reach the server and the socket: every session of an engine carries them."""

from __future__ import annotations

from sqlalchemy import text

from engine.ledger.db import make_engine
from settings_service.dbconn import DbLimits


def test_every_connection_carries_the_limits(pg_cluster):
    limits = DbLimits(statement_timeout_s=1.5, lock_timeout_s=0.5, keepalives_idle_s=7)
    engine = make_engine(pg_cluster.url(), limits)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar() == "1500ms"
            assert conn.execute(text("SHOW lock_timeout")).scalar() == "500ms"
            params = conn.connection.dbapi_connection.info.get_parameters()
        assert params["keepalives_idle"] == "7"
        assert params["tcp_user_timeout"] == "15000"
        assert params["connect_timeout"] == "5"
    finally:
        engine.dispose()
