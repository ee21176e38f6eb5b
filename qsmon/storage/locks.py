"""Advisory lock keys: one home, so two uses never collide. Only the app role may take them (deploy/postgres/
admin.sql revokes the functions from PUBLIC): a Grafana viewer can neither take nor block one.

Keys that guard one deployment's data take the schema in their second half (hashtext of the current schema and a
name), so test schemas in one database, or two deployments sharing a server, never wait on each other.
"""

from __future__ import annotations

MIGRATIONS = 0x51_53_4D_4F_4E  # "QSMON": serialises concurrent `qsmon init` runs
ALERT_ENGINE = 0x5153_0001  # classid of the alert engine's leadership (session lock, held while it leads)
NOTIFIER = 0x5153_0002  # classid of one notifier delivering at a time (transaction lock)
REFERENCE_DATA = 0x5153_0003  # classid of one reference-data sync at a time (transaction lock)

# The objid half: the same name in another schema is another lock.
SCOPED_OBJID = "hashtext(current_schema() || ':' || %(name)s)"
