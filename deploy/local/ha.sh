#!/usr/bin/env bash
# A replicated Kafka on loopback beside the local stack (`qsmon stack up --ha`): three KRaft nodes, each broker and
# controller, on ports that do not collide with the single-node stack's. Topics created by `qsmon init` with
# QSMON_KAFKA_REPLICATION_FACTOR=3 get three replicas and min.insync.replicas 2 (qsmon/topics.py).
#   ha.sh up | down | status
#   ha.sh stop N | start N      one broker (1-3), e.g. the partition leader in a failover drill
#   ha.sh kill N                 SIGKILL, as a crashed host (the drill in tests/integration/test_ha.py)
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

mkdir -p "$RUN" "$LOGS"
case "${1:-status}" in
  up) up ;;
  down) for n in "${NODES[@]}"; do stop "$n"; done; log "replicated Kafka is down" ;;
  status)
    rc=0
    for n in "${NODES[@]}"; do
      if healthy "$n"; then s=healthy; else s=down; rc=1; fi
      printf 'kafka-%s       %-8s 127.0.0.1:%s\n' "$n" "$s" $((HA_KAFKA_BASE_PORT + n))
    done
    exit $rc ;;
  stop) [[ ${2:-} =~ ^[123]$ ]] || die "usage: ha.sh stop 1|2|3"; stop "$2" ;;
  kill) [[ ${2:-} =~ ^[123]$ ]] || die "usage: ha.sh kill 1|2|3"
        pid_alive "$RUN/kafka-$2.pid" && kill -9 "$(cat "$RUN/kafka-$2.pid")"; rm -f "$RUN/kafka-$2.pid" ;;
  start) [[ ${2:-} =~ ^[123]$ ]] || die "usage: ha.sh start 1|2|3"; configure "$2"; start "$2"; wait_healthy "$2" ;;
  bootstrap) bootstrap ;;
  *) die "usage: ha.sh up|down|status|stop N|start N|bootstrap" ;;
esac
