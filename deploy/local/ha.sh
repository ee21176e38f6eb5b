#!/usr/bin/env bash
# A replicated cluster on loopback beside the local stack (`qsmon stack up --ha`): three KRaft nodes, each broker and
# controller, and a PostgreSQL primary with a synchronous streaming standby, on ports that do not collide with the
# single-node stack's. Topics created by `qsmon init` with
# QSMON_KAFKA_REPLICATION_FACTOR=3 get three replicas and min.insync.replicas 2 (qsmon/topics.py).
#   ha.sh up | down | status     all of it (Kafka and PostgreSQL); kafka-up | kafka-down | kafka-status: Kafka only
#   ha.sh stop N | start N      one broker (1-3), e.g. the partition leader in a failover drill
#   ha.sh kill N                 SIGKILL, as a crashed host (the drill in tests/integration/test_ha.py)
#   ha.sh pg-up | pg-down       PostgreSQL + TimescaleDB: a primary (15532) and a synchronous streaming standby (15533)
#   ha.sh pg-fail               the primary dies (immediate stop) and the standby is promoted
#   ha.sh pg-url                the libpq multi-host URL qsmon connects with (target_session_attrs=read-write)
# Bootstrap for qsmon: QSMON_KAFKA_BOOTSTRAP=127.0.0.1:19192,127.0.0.1:19193,127.0.0.1:19194
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

HA_DIR=$QSMON_STACK_DIR/ha
RUN=$HA_DIR/run
LOGS=$HA_DIR/logs
HA_KAFKA_BASE_PORT=${HA_KAFKA_BASE_PORT:-19191}        # broker N listens on base + N
HA_CONTROLLER_BASE_PORT=${HA_CONTROLLER_BASE_PORT:-19291}
HA_KAFKA_HEAP=${HA_KAFKA_HEAP:-384m}
NODES=(1 2 3)

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
kafka_tool() { java -Xmx256m -Dlog4j2.configurationFile="$QSMON_ROOT/deploy/local/kafka/log4j2.yaml" \
  -cp "$KAFKA_LIBS/*" "$@"; }
voters() { local v=(); for n in "${NODES[@]}"; do v+=("$n@127.0.0.1:$((HA_CONTROLLER_BASE_PORT + n))"); done
           (IFS=,; echo "${v[*]}"); }
healthy() { pid_alive "$RUN/kafka-$1.pid" && port_open $((HA_KAFKA_BASE_PORT + $1)) \
            && grep -q "Kafka Server started" "$LOGS/kafka-$1.log"; }

configure() {  # configure N
  local n=$1 dir=$HA_DIR/kafka-$1
  mkdir -p "$dir/data"
  cat >"$dir/server.properties" <<CONF
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$(voters)
listeners=PLAINTEXT://127.0.0.1:$((HA_KAFKA_BASE_PORT + n)),CONTROLLER://127.0.0.1:$((HA_CONTROLLER_BASE_PORT + n))
advertised.listeners=PLAINTEXT://127.0.0.1:$((HA_KAFKA_BASE_PORT + n))
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/data
num.partitions=6
default.replication.factor=3
min.insync.replicas=2
offsets.topic.replication.factor=3
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
share.coordinator.state.topic.replication.factor=3
share.coordinator.state.topic.min.isr=2
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
unclean.leader.election.enable=false
log.retention.hours=168
CONF
}

start() {  # start N
  local n=$1
  pid_alive "$RUN/kafka-$n.pid" && return 0
  log "starting Kafka node $n on 127.0.0.1:$((HA_KAFKA_BASE_PORT + n))"
  : >"$LOGS/kafka-$n.log"
  nohup java -Xms"$HA_KAFKA_HEAP" -Xmx"$HA_KAFKA_HEAP" -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$QSMON_ROOT/deploy/local/kafka/log4j2.yaml" -cp "$KAFKA_LIBS/*" \
    kafka.Kafka "$HA_DIR/kafka-$n/server.properties" >>"$LOGS/kafka-$n.log" 2>&1 &
  echo $! >"$RUN/kafka-$n.pid"
}

stop() {  # stop N: TERM, then KILL after 20 s
  local f=$RUN/kafka-$1.pid
  pid_alive "$f" || { rm -f "$f"; return 0; }
  local pid; pid=$(cat "$f")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 80); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$f"
}

wait_healthy() {
  for _ in $(seq 360); do
    local all=1; for n in "$@"; do healthy "$n" || all=0; done
    [ $all = 1 ] && return 0; sleep 0.25
  done
  die "Kafka nodes $* did not become healthy within 90s; see $LOGS/"
}

up() {
  bash "$QSMON_ROOT/deploy/local/install.sh"
  for n in "${NODES[@]}"; do configure "$n"; done
  if [ ! -f "$HA_DIR/kafka-1/data/meta.properties" ]; then
    log "formatting the three nodes' KRaft storage"
    local id; id=$(kafka_tool kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)
    [[ $id =~ ^[A-Za-z0-9_-]{22}$ ]] || die "Kafka gave no cluster id (got: ${id:0:80})"
    for n in "${NODES[@]}"; do
      kafka_tool kafka.tools.StorageTool format -t "$id" -c "$HA_DIR/kafka-$n/server.properties" \
        >"$LOGS/kafka-format-$n.log" 2>&1 || die "format of node $n failed; see $LOGS/kafka-format-$n.log"
    done
  fi
  for n in "${NODES[@]}"; do start "$n"; done
  wait_healthy "${NODES[@]}"
  log "replicated Kafka is up: QSMON_KAFKA_BOOTSTRAP=$(bootstrap) QSMON_KAFKA_REPLICATION_FACTOR=3"
}

bootstrap() { local b=(); for n in "${NODES[@]}"; do b+=("127.0.0.1:$((HA_KAFKA_BASE_PORT + n))"); done
              (IFS=,; echo "${b[*]}"); }


# --- PostgreSQL: a primary and a synchronous standby ------------------------------------------------------------
HA_PG_PORTS=(0 ${HA_PG_PRIMARY_PORT:-15532} ${HA_PG_STANDBY_PORT:-15533})  # node 1 starts as primary, 2 as standby
pg_user() { if [ "$(id -u)" -eq 0 ]; then echo postgres; else id -un; fi; }
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pg_dir() { echo "$HA_DIR/pg-$1"; }
pg_ready() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "${HA_PG_PORTS[$1]}"; }
pg_start() {
  pg_ready "$1" && return 0
  as_pg "$PG_BIN/pg_ctl" -D "$(pg_dir "$1")" -l "$LOGS/pg-$1.log" -w -t 60 start >/dev/null \
    || die "PostgreSQL node $1 did not start; see $LOGS/pg-$1.log"
}
pg_stop() {  # pg_stop N [MODE]
  [ -f "$(pg_dir "$1")/postmaster.pid" ] && as_pg "$PG_BIN/pg_ctl" -D "$(pg_dir "$1")" -m "${2:-fast}" -w stop \
    >/dev/null 2>&1 || true
}
pg_up() {
  [ "$(id -u)" -eq 0 ] && chown "$(pg_user)" "$RUN" "$LOGS" "$HA_DIR"
  local primary; primary=$(pg_dir 1)
  if [ ! -f "$primary/PG_VERSION" ]; then
    log "initialising the HA primary in $primary"
    mkdir -p "$primary"; chmod 700 "$primary"; [ "$(id -u)" -eq 0 ] && chown "$(pg_user)" "$primary"
    as_pg "$PG_BIN/initdb" -D "$primary" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
      -E UTF8 --locale=C.UTF-8 >"$LOGS/pg-initdb.log" 2>&1 || die "initdb failed; see $LOGS/pg-initdb.log"
    cat >>"$primary/postgresql.conf" <<CONF
# qsmon HA drill: primary, synchronous standby (a commit waits for the standby, so a promotion loses none)
listen_addresses = '127.0.0.1'
port = ${HA_PG_PORTS[1]}
unix_socket_directories = '$RUN'
shared_preload_libraries = 'timescaledb'
timescaledb.telemetry_level = off
max_connections = 200
shared_buffers = 128MB
timezone = 'UTC'
wal_level = replica
hot_standby = on
CONF
    pg_start 1
    PGOPTIONS="-c client_min_messages=warning" as_pg psql -h "$RUN" -p "${HA_PG_PORTS[1]}" -U postgres -d postgres -q \
      -v database="$PG_DB" -v app_role="$PG_USER" -v app_password="$PG_PASSWORD" \
      -v reader_password="$PG_READER_PASSWORD" -f "$QSMON_ROOT/deploy/postgres/admin.sql" >/dev/null \
      || die "the admin step failed (deploy/postgres/admin.sql)"
  fi
  pg_start 1
  local standby; standby=$(pg_dir 2)
  if [ ! -f "$standby/PG_VERSION" ]; then
    log "cloning the streaming standby into $standby"
    as_pg "$PG_BIN/pg_basebackup" -D "$standby" -h "$RUN" -p "${HA_PG_PORTS[1]}" -U postgres -R -X stream \
      >"$LOGS/pg-basebackup.log" 2>&1 || die "pg_basebackup failed; see $LOGS/pg-basebackup.log"
    printf "port = %s\n" "${HA_PG_PORTS[2]}" >>"$standby/postgresql.conf"
    # A promoted standby must not wait for a standby of its own (the dead primary): not synchronous itself.
    as_pg sh -c "echo \"synchronous_standby_names = ''\" >>'$standby/postgresql.auto.conf'"
  fi
  pg_start 2
  # Synchronous once the standby streams: set before, the admin step's commits would wait for it forever.
  as_pg psql -h "$RUN" -p "${HA_PG_PORTS[1]}" -U postgres -d postgres -q \
    -c "ALTER SYSTEM SET synchronous_standby_names = '*'" -c "SELECT pg_reload_conf()" >/dev/null
  log "PostgreSQL primary on ${HA_PG_PORTS[1]}, standby on ${HA_PG_PORTS[2]}: QSMON_DATABASE_URL=$(pg_url)"
}
pg_url() { echo "postgresql://$PG_USER:$PG_PASSWORD@127.0.0.1:${HA_PG_PORTS[1]},127.0.0.1:${HA_PG_PORTS[2]}/$PG_DB?target_session_attrs=read-write"; }
pg_fail() {
  log "the primary dies; promoting the standby"
  pg_stop 1 immediate
  as_pg "$PG_BIN/pg_ctl" -D "$(pg_dir 2)" -w promote >/dev/null || die "promotion failed; see $LOGS/pg-2.log"
}

mkdir -p "$RUN" "$LOGS"
kafka_status() {
  local rc=0
  for n in "${NODES[@]}"; do
    if healthy "$n"; then s=healthy; else s=down; rc=1; fi
    printf 'kafka-%s       %-8s 127.0.0.1:%s\n' "$n" "$s" $((HA_KAFKA_BASE_PORT + n))
  done
  return $rc
}
pg_status() {
  local rc=0
  for n in 1 2; do
    if pg_ready "$n"; then s=healthy; else s=down; rc=1; fi
    printf 'postgres-%s    %-8s 127.0.0.1:%s\n' "$n" "$s" "${HA_PG_PORTS[$n]}"
  done
  return $rc
}
kafka_down() { for n in "${NODES[@]}"; do stop "$n"; done; log "replicated Kafka is down"; }

case "${1:-status}" in
  up) up; pg_up ;;
  down) kafka_down; pg_stop 2; pg_stop 1 ;;
  status) rc=0; kafka_status || rc=1; pg_status || rc=1; exit $rc ;;
  kafka-up) up ;;
  kafka-down) kafka_down ;;
  kafka-status) kafka_status ;;
  stop) [[ ${2:-} =~ ^[123]$ ]] || die "usage: ha.sh stop 1|2|3"; stop "$2" ;;
  kill) [[ ${2:-} =~ ^[123]$ ]] || die "usage: ha.sh kill 1|2|3"
        pid_alive "$RUN/kafka-$2.pid" && kill -9 "$(cat "$RUN/kafka-$2.pid")"; rm -f "$RUN/kafka-$2.pid" ;;
  start) [[ ${2:-} =~ ^[123]$ ]] || die "usage: ha.sh start 1|2|3"; configure "$2"; start "$2"; wait_healthy "$2" ;;
  bootstrap) bootstrap ;;
  pg-up) bash "$QSMON_ROOT/deploy/local/install.sh"; pg_up ;;
  pg-down) pg_stop 2; pg_stop 1; log "HA PostgreSQL is down" ;;
  pg-reset) pg_stop 2; pg_stop 1; rm -rf "$(pg_dir 1)" "$(pg_dir 2)"; log "HA PostgreSQL removed" ;;
  pg-fail) pg_fail ;;
  pg-url) pg_url ;;
  *) die "usage: ha.sh up|down|status|kafka-up|kafka-down|kafka-status|stop N|start N|kill N|bootstrap|pg-up|pg-down|pg-reset|pg-fail|pg-url" ;;
esac
