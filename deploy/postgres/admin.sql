-- qsmon's database, its two roles and their limits. Run as a superuser, before `qsmon init`, by
--   deploy/local/stack.sh (every `qsmon stack up`) and deploy/compose/initdb (the database container's first start).
-- Idempotent. psql variables: database, app_role, app_password, reader_password (empty: the reader cannot log in).
--
-- Threat model (docs/security.md): anyone who can open a Grafana dashboard can send any SQL through its datasource,
-- as qsmon_grafana. So that role is made harmless here and in the migrations: it reads what the dashboards show and
-- nothing else, cannot take or hold a lock the pipeline waits on, cannot write anything anywhere, and gives up
-- long statements by default. The app role owns its database and nothing beyond it.
\set ON_ERROR_STOP on

SELECT format('CREATE ROLE %I LOGIN', :'app_role')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app_role') \gexec
-- No CREATEROLE: a role that can create roles can grant itself pg_execute_server_program (shell on the server).
ALTER ROLE :"app_role" LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB NOREPLICATION NOBYPASSRLS PASSWORD :'app_password';

SELECT 'CREATE ROLE qsmon_grafana NOLOGIN'
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'qsmon_grafana') \gexec
ALTER ROLE qsmon_grafana NOSUPERUSER NOCREATEROLE NOCREATEDB NOREPLICATION NOBYPASSRLS NOINHERIT CONNECTION LIMIT 10;
SELECT CASE WHEN :'reader_password' = '' THEN 'ALTER ROLE qsmon_grafana NOLOGIN PASSWORD NULL'
            ELSE format('ALTER ROLE qsmon_grafana LOGIN PASSWORD %L', :'reader_password') END \gexec
-- Defaults against accidents (a viewer may SET them back: privileges, not these, are the boundary) ...
ALTER ROLE qsmon_grafana SET statement_timeout = '30s';
ALTER ROLE qsmon_grafana SET lock_timeout = '5s';
ALTER ROLE qsmon_grafana SET idle_in_transaction_session_timeout = '60s';
ALTER ROLE qsmon_grafana SET idle_session_timeout = '15min';
ALTER ROLE qsmon_grafana SET default_transaction_read_only = on;
-- ... and one a viewer cannot lift (a superuser-only setting): sorts and hashes spill at most this much to disk.
ALTER ROLE qsmon_grafana SET temp_file_limit = '1GB';

SELECT format('CREATE DATABASE %I OWNER %I ENCODING ''UTF8''', :'database', :'app_role')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'database') \gexec
-- CONNECT and TEMPORARY are PUBLIC's on every database until revoked: each role connects to its own database only,
-- and only the app (the owner) creates temporary tables. Every database of the cluster, not only the app's: a
-- restored copy, a second database or template1 kept PUBLIC's rights, so the reader could connect there, make
-- temporary tables, notify and take advisory locks. Owners keep theirs (an owner's rights are not PUBLIC's).
REVOKE ALL ON DATABASE :"database" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"database" TO qsmon_grafana;
SELECT format('REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC', datname) FROM pg_database
WHERE datname <> :'database' ORDER BY datname \gexec
-- A database created later (CREATE DATABASE, a restore) gets PUBLIC's CONNECT and TEMPORARY again: PostgreSQL does not
-- copy a database's own privileges from its template. What it does copy are the template's objects and their
-- privileges, so template1 loses the functions the reader must not call (below); this script, which every
-- `qsmon stack up` runs, takes CONNECT and TEMPORARY away again. The app role keeps the functions it uses (the alert
-- service leads by an advisory lock; notifications), in a restored database as in this one.
\connect template1
SET qsmon.app_role = :'app_role';
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = 'pg_catalog'
               AND (p.proname LIKE 'pg\_advisory%' OR p.proname LIKE 'pg\_try\_advisory%'
                    OR p.proname IN ('lo_creat', 'lo_create', 'lo_from_bytea', 'lo_open', 'lo_put', 'lowrite',
                                     'lo_truncate', 'lo_truncate64', 'lo_unlink', 'pg_notify',
                                     'pg_logical_emit_message', 'txid_current', 'pg_current_xact_id'))
    LOOP
        EXECUTE format('REVOKE EXECUTE ON ROUTINE %s FROM PUBLIC', f);
        EXECUTE format('GRANT EXECUTE ON ROUTINE %s TO %I', f, current_setting('qsmon.app_role'));
    END LOOP;
END
$$;

\connect :"database"
CREATE EXTENSION IF NOT EXISTS timescaledb;
-- Functions PUBLIC may call by default that only the app may: advisory locks (others could wait on them), large
-- objects (server-side storage), notifications, WAL messages and transaction ids (writes, even read-only), and every
-- function of the TimescaleDB extension (its API can add jobs and change hypertables; panels use none of it).
-- Every overload counts, hence the loops. qsmon itself uses none of the first group (the worker locks rows of
-- stream_offsets, which the reader cannot even see); the grants keep the app role's powers as they were.
-- lo_import/lo_export are superuser-only already and stay so: they read server files. After upgrading the
-- extension, run this script again: an upgrade re-creates its functions with PUBLIC's default privileges.
SET qsmon.app_role = :'app_role';
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE (n.nspname = 'pg_catalog'
                    AND (p.proname LIKE 'pg\_advisory%' OR p.proname LIKE 'pg\_try\_advisory%'
                         OR p.proname IN ('lo_creat', 'lo_create', 'lo_from_bytea', 'lo_open', 'lo_put', 'lowrite',
                                          'lo_truncate', 'lo_truncate64', 'lo_unlink', 'pg_notify',
                                          'pg_logical_emit_message', 'txid_current', 'pg_current_xact_id')))
                OR p.oid IN (SELECT objid FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
                             WHERE e.extname = 'timescaledb' AND d.classid = 'pg_proc'::regclass AND d.deptype = 'e')
    LOOP
        EXECUTE format('REVOKE EXECUTE ON ROUTINE %s FROM PUBLIC', f);  -- functions, procedures, aggregates
        EXECUTE format('GRANT EXECUTE ON ROUTINE %s TO %I', f, current_setting('qsmon.app_role'));
    END LOOP;
END
$$;

-- Some DDL takes its lock before it checks ownership: a viewer's CREATE RULE or CREATE INDEX on a table it may read
-- would queue an exclusive lock, and every insert behind it. An event trigger fires before any DDL runs and refuses
-- it for the reader.
CREATE OR REPLACE FUNCTION qsmon_refuse_reader_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN
    IF session_user = 'qsmon_grafana' THEN
        RAISE EXCEPTION 'qsmon_grafana may not run %', tg_tag USING ERRCODE = 'insufficient_privilege';
    END IF;
END
$$;
DROP EVENT TRIGGER IF EXISTS qsmon_refuse_reader_ddl;
CREATE EVENT TRIGGER qsmon_refuse_reader_ddl ON ddl_command_start EXECUTE FUNCTION qsmon_refuse_reader_ddl();

-- Schemas the migrations did not make readable (left by an interrupted test or benchmark, or older than migration
-- 009): the reader sees none of them. Migrations grant USAGE on the app's own schema.
DO $$
DECLARE
    s name;
BEGIN
    FOR s IN SELECT nspname FROM pg_namespace
             WHERE nspname NOT IN ('public', 'information_schema') AND nspname NOT LIKE 'pg\_%'
               AND nspname NOT LIKE '\_timescaledb%' AND nspname NOT LIKE 'timescaledb%'
    LOOP
        EXECUTE format('REVOKE ALL ON SCHEMA %I FROM qsmon_grafana', s);
    END LOOP;
END
$$;
