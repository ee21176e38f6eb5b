#!/bin/sh
# First start of the timescale/timescaledb container: the application role, its database, the extension.
set -e
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" <<SQL
CREATE ROLE qsmon LOGIN CREATEROLE PASSWORD '${QSMON_DB_PASSWORD}';
CREATE DATABASE qsmon OWNER qsmon;
\c qsmon
CREATE EXTENSION IF NOT EXISTS timescaledb;
SQL
