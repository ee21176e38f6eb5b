#!/usr/bin/env bash
# The local stack without Docker: Kafka (KRaft), PostgreSQL 15 + TimescaleDB, Prometheus, Alertmanager.
#   stack.sh up       install what is missing, start what is not running, wait until healthy (idempotent)
#   stack.sh down     stop what `up` started (pid files under the stack directory), nothing else
#   stack.sh status   one line per service: state, port, health; exits 1 when one is unhealthy
#   stack.sh stop|start SERVICE   one service (postgres, kafka, prometheus, alertmanager), e.g. for fault drills
#   stack.sh reload prometheus    re-read its configuration and rules (SIGHUP: the lifecycle API stays off)
#   stack.sh database NAME        another database like qsmon's (the admin step: owner, extension, grants), e.g. the
#                                 target of a restore drill (docs/operations.md); `stack.sh drop-database NAME`
#   stack.sh restore NAME DUMP    restore a `pg_dump -Fc` file into a new database NAME (TimescaleDB's procedure)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

RUN=$QSMON_STACK_DIR/run
LOGS=$QSMON_STACK_DIR/logs
PGDATA=$QSMON_STACK_DIR/pg
KAFKA_DIR=$QSMON_STACK_DIR/kafka
PROM_DIR=$QSMON_STACK_DIR/prometheus
AM_DIR=$QSMON_STACK_DIR/alertmanager

# PostgreSQL refuses to run as root; a root caller runs it as the Debian `postgres` user.
pg_user() { if [ "$(id -u)" -eq 0 ]; then echo postgres; else id -un; fi; }
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
http_ok() { curl -fsS --max-time 2 "$1" >/dev/null 2>&1; }

wait_for() {  # wait_for NAME SECONDS CMD...
  local name=$1 secs=$2; shift 2
  for _ in $(seq $((secs * 4))); do "$@" && return 0; sleep 0.25; done
  die "$name did not become healthy within ${secs}s; see $LOGS/$name.log"
}

# --- PostgreSQL + TimescaleDB -------------------------------------------------------------
pg_healthy() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; }
pg_up() {
  if [ ! -f "$PGDATA/PG_VERSION" ]; then
    log "initialising PostgreSQL cluster in $PGDATA"
    mkdir -p "$PGDATA"; chmod 700 "$PGDATA"
    [ "$(id -u)" -eq 0 ] && chown "$(pg_user)" "$PGDATA" "$RUN" "$LOGS"
    as_pg "$PG_BIN/initdb" -D "$PGDATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
      -E UTF8 --locale=C.UTF-8 >"$LOGS/initdb.log" 2>&1 || die "initdb failed; see $LOGS/initdb.log"
    cat >>"$PGDATA/postgresql.conf" <<CONF
# qsmon local stack
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$RUN'
shared_preload_libraries = 'timescaledb'
timescaledb.telemetry_level = off
max_connections = 200
shared_buffers = 256MB
timezone = 'UTC'
CONF
  fi
  if ! pg_healthy; then
    log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
    as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$LOGS/postgres.log" -w -t 60 start >/dev/null \
      || die "PostgreSQL did not start; see $LOGS/postgres.log"
  fi
  wait_for postgres 60 pg_healthy
  # Roles, database, extension and the reader's limits: a superuser's job, shared with compose's first start.
  pg_admin "$PG_DB"
}
pg_admin() {  # the admin script for database $1
  PGOPTIONS="-c client_min_messages=warning" as_pg psql -h "$RUN" -p "$PG_PORT" -U postgres -d postgres -q \
    -v database="$1" -v app_role="$PG_USER" -v app_password="$PG_PASSWORD" \
    -v reader_password="$PG_READER_PASSWORD" -f "$QSMON_ROOT/deploy/postgres/admin.sql" >/dev/null \
    || die "the database's admin step failed (deploy/postgres/admin.sql)"
}
pg_restore_into() {  # a new database $1 from the pg_dump -Fc file $2, as TimescaleDB documents it
  local psql_su=(as_pg psql -h "$RUN" -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 -q)
  "${psql_su[@]}" -d postgres -c "CREATE DATABASE \"$1\" OWNER \"$PG_USER\" ENCODING 'UTF8'"
  "${psql_su[@]}" -d "$1" -c "CREATE EXTENSION timescaledb" -c "SELECT timescaledb_pre_restore()" >/dev/null
  as_pg "$PG_BIN/pg_restore" -h "$RUN" -p "$PG_PORT" -U postgres -d "$1" --exit-on-error <"$2" \
    || die "pg_restore failed"
  "${psql_su[@]}" -d "$1" -c "SELECT timescaledb_post_restore()" >/dev/null
  pg_admin "$1"  # grants and the reader's limits, as on the original
}
pg_down() { [ -f "$PGDATA/postmaster.pid" ] && as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null || true; }

# --- Kafka (KRaft, single node) ---------------------------------------------------------
kafka_tool() { java -Xmx256m -Dlog4j2.configurationFile="$QSMON_ROOT/deploy/local/kafka/log4j2.yaml" \
  -cp "$KAFKA_LIBS/*" "$@"; }
kafka_healthy() { pid_alive "$RUN/kafka.pid" && port_open "$KAFKA_PORT" && grep -q "Kafka Server started" "$LOGS/kafka.log"; }
kafka_up() {
  mkdir -p "$KAFKA_DIR/data"
  cat >"$KAFKA_DIR/server.properties" <<CONF
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_DIR/data
num.partitions=6
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.retention.hours=168
CONF
  if [ ! -f "$KAFKA_DIR/data/meta.properties" ]; then
    log "formatting Kafka KRaft storage"
    local cluster_id; cluster_id=$(kafka_tool kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)  # the id, not log lines
    [[ $cluster_id =~ ^[A-Za-z0-9_-]{22}$ ]] || die "Kafka gave no cluster id (got: ${cluster_id:0:80})"
    kafka_tool kafka.tools.StorageTool format -t "$cluster_id" -c "$KAFKA_DIR/server.properties" --standalone \
      >"$LOGS/kafka-format.log" 2>&1 || die "Kafka storage format failed; see $LOGS/kafka-format.log"
  fi
  if ! pid_alive "$RUN/kafka.pid"; then
    log "starting Kafka $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT"
    : >"$LOGS/kafka.log"
    nohup java -Xms"$KAFKA_HEAP" -Xmx"$KAFKA_HEAP" -XX:+UseG1GC -Djava.awt.headless=true \
      -Dlog4j2.configurationFile="$QSMON_ROOT/deploy/local/kafka/log4j2.yaml" -cp "$KAFKA_LIBS/*" \
      kafka.Kafka "$KAFKA_DIR/server.properties" >>"$LOGS/kafka.log" 2>&1 &
    echo $! >"$RUN/kafka.pid"
  fi
  wait_for kafka 90 kafka_healthy
}

# --- Prometheus and Alertmanager ----------------------------------------------------------
prom_healthy() { http_ok "http://127.0.0.1:$PROMETHEUS_PORT/-/ready"; }
prom_up() {
  mkdir -p "$PROM_DIR/data" "$PROM_DIR/rules"
  QSMON_ROOT=$QSMON_ROOT QSMON_STACK_DIR=$QSMON_STACK_DIR ALERTMANAGER_PORT=$ALERTMANAGER_PORT \
    envsubst <"$QSMON_ROOT/deploy/local/prometheus.yml.tmpl" >"$PROM_DIR/prometheus.yml"
  if pid_alive "$RUN/prometheus.pid"; then
    kill -HUP "$(cat "$RUN/prometheus.pid")"  # already running: re-read the configuration just written
  else
    log "starting Prometheus on 127.0.0.1:$PROMETHEUS_PORT"
    nohup prometheus --config.file="$PROM_DIR/prometheus.yml" --storage.tsdb.path="$PROM_DIR/data" \
      --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" \
      >"$LOGS/prometheus.log" 2>&1 &
    echo $! >"$RUN/prometheus.pid"
  fi
  wait_for prometheus 60 prom_healthy
}
am_healthy() { http_ok "http://127.0.0.1:$ALERTMANAGER_PORT/-/ready"; }
am_up() {
  mkdir -p "$AM_DIR/data"
  if ! pid_alive "$RUN/alertmanager.pid"; then
    log "starting Alertmanager on 127.0.0.1:$ALERTMANAGER_PORT"
    nohup prometheus-alertmanager --config.file="$QSMON_ROOT/deploy/local/alertmanager.yml" \
      --storage.path="$AM_DIR/data" --web.listen-address="127.0.0.1:$ALERTMANAGER_PORT" \
      --cluster.listen-address="" >"$LOGS/alertmanager.log" 2>&1 &
    echo $! >"$RUN/alertmanager.pid"
  fi
  wait_for alertmanager 60 am_healthy
}

stop_pid() {  # stop_pid NAME: TERM, then KILL after 20 s
  local f=$RUN/$1.pid
  pid_alive "$f" || { rm -f "$f"; return 0; }
  local pid; pid=$(cat "$f")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 80); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$f"
}

status_line() {  # status_line NAME PORT DESCRIPTION HEALTH_CMD...
  local name=$1 port=$2 what=$3; shift 3
  if "$@"; then printf '%-13s %-8s 127.0.0.1:%-6s %s\n' "$name" healthy "$port" "$what"; return 0; fi
  printf '%-13s %-8s 127.0.0.1:%-6s %s\n' "$name" down "$port" "$what"; return 1
}

cmd=${1:-status}
mkdir -p "$RUN" "$LOGS"
case "$cmd" in
  up)
    bash "$QSMON_ROOT/deploy/local/install.sh"
    command -v envsubst >/dev/null || die "envsubst not found (apt-get install gettext-base)"
    pg_up; kafka_up; prom_up; am_up
    log "stack is up (data in $QSMON_STACK_DIR)"
    ;;
  down)
    stop_pid alertmanager; stop_pid prometheus; stop_pid kafka; pg_down
    log "stack is down"
    ;;
  status)
    rc=0
    status_line postgres "$PG_PORT" "PostgreSQL $PG_VERSION + TimescaleDB" pg_healthy || rc=1
    status_line kafka "$KAFKA_PORT" "Apache Kafka $KAFKA_VERSION (KRaft)" kafka_healthy || rc=1
    status_line prometheus "$PROMETHEUS_PORT" "Prometheus" prom_healthy || rc=1
    status_line alertmanager "$ALERTMANAGER_PORT" "Alertmanager" am_healthy || rc=1
    exit $rc
    ;;
  stop)
    case "${2:-}" in
      postgres) pg_down ;; kafka|prometheus|alertmanager) stop_pid "$2" ;;
      *) die "usage: stack.sh stop postgres|kafka|prometheus|alertmanager" ;;
    esac ;;
  start)
    case "${2:-}" in
      postgres) pg_up ;; kafka) kafka_up ;; prometheus) prom_up ;; alertmanager) am_up ;;
      *) die "usage: stack.sh start postgres|kafka|prometheus|alertmanager" ;;
    esac ;;
  reload)
    [ "${2:-}" = prometheus ] || die "usage: stack.sh reload prometheus"
    pid_alive "$RUN/prometheus.pid" || die "prometheus is not running"
    kill -HUP "$(cat "$RUN/prometheus.pid")" ;;
  database)
    [[ ${2:-} =~ ^[a-z_][a-z0-9_]*$ ]] || die "usage: stack.sh database NAME (lower case, digits, _)"
    pg_admin "$2" ;;
  restore)
    [[ ${2:-} =~ ^[a-z_][a-z0-9_]*$ && -f ${3:-} ]] || die "usage: stack.sh restore NAME DUMP_FILE"
    pg_restore_into "$2" "$3" ;;
  drop-database)
    [[ ${2:-} =~ ^[a-z_][a-z0-9_]*$ && $2 != "$PG_DB" ]] || die "usage: stack.sh drop-database NAME (not $PG_DB)"
    as_pg psql -h "$RUN" -p "$PG_PORT" -U postgres -d postgres -q -c "DROP DATABASE IF EXISTS \"$2\" WITH (FORCE)" ;;
  *) die "usage: stack.sh up|down|status|stop SERVICE|start SERVICE|reload prometheus|database NAME|drop-database NAME" ;;
esac
