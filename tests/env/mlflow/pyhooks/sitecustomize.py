"""Test-environment only: faster SQLite for the MLflow server started by tests/env/mlflow.

mlflow/start puts this directory on PYTHONPATH of the server process and sets
MLOPS_SQLITE_FAST=1. Every SQLite connection SQLAlchemy opens then uses WAL
(readers don't block the writer), synchronous=OFF (no fsync per commit; a crash may
lose the test database, which is disposable) and a 30 s busy timeout.
"""
import os

if os.environ.get("MLOPS_SQLITE_FAST") == "1":
    try:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        @event.listens_for(Engine, "connect")
        def _mlops_sqlite_pragmas(dbapi_conn, _record):
            if "sqlite" not in type(dbapi_conn).__module__:
                return
            cur = dbapi_conn.cursor()
            try:
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=OFF")
                cur.execute("PRAGMA busy_timeout=30000")
            finally:
                cur.close()
    except Exception:  # never break the server over a tuning hook
        pass

# Webhooks (tests/env/mlflow/start): requests verifies with certifi's bundle whatever the
# environment says (MLflow's webhook session ignores REQUESTS_CA_BUNDLE), so certifi points at
# a bundle that adds the test CA of the webhook receiver.
_bundle = os.environ.get("MLOPS_WEBHOOK_CA_BUNDLE")
if _bundle:
    try:
        import certifi

        certifi.where = lambda: _bundle
    except Exception:  # never break the server over a test hook
        pass
