"""TimescaleDB access: connections and versioned migrations."""

from qsmon.storage.db import connect
from qsmon.storage.migrate import apply_migrations, check_schema, pending_migrations

__all__ = ["apply_migrations", "check_schema", "connect", "pending_migrations"]
