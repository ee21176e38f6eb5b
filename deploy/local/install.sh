#!/usr/bin/env bash
# Installs everything the local stack needs on a fresh Debian bookworm machine; skips what is there.
#   Debian packages: PostgreSQL 15, Prometheus (+promtool), Alertmanager, build tools, fonts, poppler.
#   TimescaleDB: built from Debian trixie's source package (not packaged for bookworm).
#   Kafka: broker jars resolved from Maven Central into the cache directory.
#   helm: built from its Go module (the Kubernetes chart's checks), when Go is there.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

APT_PACKAGES=(
  postgresql-15 postgresql-server-dev-15 cmake gcc make
  prometheus prometheus-alertmanager
  docker-compose           # only to validate docker-compose.yml: no engine runs here
  fonts-wqy-microhei poppler-utils   # Chinese text in report PDFs (TrueType outlines); pdftoppm/pdftotext in tests
  maven curl ca-certificates
  openjdk-17-jre-headless  # runs the Kafka broker
  gettext-base             # envsubst, for the Prometheus and Alertmanager configurations
)

install_apt_packages() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "apt-get not found: install ${missing[*]} with your package manager"
  log "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq || die "apt-get update failed: check the network route to the Debian mirror"
  # Package scripts must not start system services; the stack runs its own processes on its own ports.
  as_root env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    || die "apt-get install failed for: ${missing[*]}"
}

timescaledb_installed() {
  ls /usr/share/postgresql/$PG_VERSION/extension/timescaledb--$TIMESCALEDB_VERSION_PREFIX.*.sql >/dev/null 2>&1 \
    && ls /usr/lib/postgresql/$PG_VERSION/lib/timescaledb.so >/dev/null 2>&1
}

install_timescaledb() {
  timescaledb_installed && return 0
  log "building TimescaleDB (Apache-2 edition) from Debian trixie's source package"
  local work=$QSMON_CACHE_DIR/timescaledb-build
  rm -rf "$work"; mkdir -p "$work/lists/partial"
  # A private sources list: the system's apt configuration stays untouched.
  echo "deb-src http://deb.debian.org/debian trixie main" > "$work/sources.list"
  local opts=(-o "Dir::Etc::sourcelist=$work/sources.list" -o "Dir::Etc::sourceparts=-" -o "Dir::State::Lists=$work/lists")
  apt-get "${opts[@]}" update -qq || die "could not read trixie's source index (apt-get update with a private list)"
  (cd "$work" && apt-get "${opts[@]}" source --download-only timescaledb >/dev/null) \
    || die "could not download the timescaledb source package from trixie"
  (cd "$work" && dpkg-source -x --skip-patches timescaledb_*.dsc src >/dev/null)
  (cd "$work/src" \
    && ./bootstrap -DAPACHE_ONLY=1 -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF -DWARNINGS_AS_ERRORS=OFF \
         -DSEND_TELEMETRY_DEFAULT=OFF -DUSE_TELEMETRY=OFF -DPG_CONFIG=$PG_BIN/pg_config >build.log 2>&1 \
    && make -C build -j"$(nproc)" >>build.log 2>&1 \
    && as_root make -C build install >>build.log 2>&1) \
    || die "TimescaleDB build failed; see $work/src/build.log"
  timescaledb_installed || die "TimescaleDB built but the extension files are not where PostgreSQL $PG_VERSION looks"
  log "TimescaleDB installed"
}

install_kafka() {
  # The marker names the pom's hash: a changed dependency list resolves again.
  local marker; marker="$KAFKA_LIBS/.resolved-$(sha256sum "$QSMON_ROOT/deploy/local/kafka/pom.xml" | cut -c1-16)"
  [ -f "$marker" ] && return 0
  command -v java >/dev/null || die "Java not found: Kafka $KAFKA_VERSION needs Java 17 (apt-get install openjdk-17-jre-headless)"
  local major; major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
  [ "${major:-0}" -ge 17 ] || die "Java $major found: Kafka $KAFKA_VERSION needs Java 17 or newer"
  log "resolving Kafka $KAFKA_VERSION jars from Maven Central"
  rm -rf "$KAFKA_LIBS"; mkdir -p "$KAFKA_LIBS"
  mvn -q -B -f "$QSMON_ROOT/deploy/local/kafka/pom.xml" -Dkafka.version="$KAFKA_VERSION" \
      dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$KAFKA_LIBS" \
    || die "Maven could not resolve org.apache.kafka:kafka_2.13:$KAFKA_VERSION (is Maven Central reachable?)"
  touch "$marker"
}

install_helm() {
  [ -x "$HELM" ] && return 0
  local go; go=$(command -v go || echo /usr/local/go/bin/go)
  if [ ! -x "$go" ]; then
    log "Go not found: helm not built (the chart's checks in tests/integration/test_helm.py skip, or fail in CI)"
    return 0
  fi
  log "building helm $HELM_VERSION from its Go module (a few minutes, once)"
  GOBIN=$(dirname "$HELM") "$go" install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" \
    || die "could not build helm $HELM_VERSION (is the Go module proxy reachable?)"
}

install_apt_packages
install_timescaledb
install_kafka
install_helm
log "install complete"
