# Shared settings of the local stack; sourced by the other scripts in this folder.
# Ports sit above 10000 so they never clash with system services (5432, 9090, 9092 ...).
# shellcheck shell=bash
QSMON_ROOT=${QSMON_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
QSMON_STACK_DIR=${QSMON_STACK_DIR:-$QSMON_ROOT/.stack}
# Installed artefacts outlive a checkout so a fresh clone on the same machine starts fast.
QSMON_CACHE_DIR=${QSMON_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/qsmon}

KAFKA_VERSION=${KAFKA_VERSION:-4.0.2}
KAFKA_PORT=${KAFKA_PORT:-19092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-19094}
KAFKA_HEAP=${KAFKA_HEAP:-512m}
KAFKA_LIBS=$QSMON_CACHE_DIR/kafka-$KAFKA_VERSION/libs

PG_VERSION=15
PG_BIN=/usr/lib/postgresql/$PG_VERSION/bin
PG_PORT=${PG_PORT:-15432}
PG_DB=${PG_DB:-qsmon}
PG_USER=${PG_USER:-qsmon}
# Loopback-only development passwords; production sets its own (docker-compose.yml).
PG_PASSWORD=${PG_PASSWORD:-qsmon}
PG_READER_PASSWORD=${PG_READER_PASSWORD:-qsmon_grafana}
TIMESCALEDB_VERSION_PREFIX=2.19

# helm, built from its Go module (the chart's checks: helm lint, helm template; tests/integration/test_helm.py).
HELM_VERSION=${HELM_VERSION:-v3.22.0}
HELM=$QSMON_CACHE_DIR/helm-$HELM_VERSION/helm

PROMETHEUS_PORT=${PROMETHEUS_PORT:-19090}
ALERTMANAGER_PORT=${ALERTMANAGER_PORT:-19093}
ALERTMANAGER_CLUSTER_PORT=${ALERTMANAGER_CLUSTER_PORT:-19095}

log() { printf '\033[1m[qsmon stack]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[31m[qsmon stack] error:\033[0m %s\n' "$*" >&2; exit 1; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else die "need root for: $* (run as root or install sudo)"; fi; }
