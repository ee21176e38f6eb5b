#!/bin/sh
# First start of the timescale/timescaledb container: roles, database, extension and the reader's limits, from the
# same admin script the local stack runs (mounted at /qsmon/admin.sql).
set -e
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres -q \
  -v database=qsmon -v app_role=qsmon -v app_password="$QSMON_DB_PASSWORD" \
  -v reader_password="$GRAFANA_DB_PASSWORD" -f /qsmon/admin.sql
