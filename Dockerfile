# Two images. The last stage (the default target) is the qsmon services image; `--target timescaledb` builds the
# database image for Kubernetes (deploy/helm/examples/cnpg-cluster.yaml).

# PostgreSQL + TimescaleDB for CloudNativePG, pinned: TimescaleDB has no CloudNativePG-ready image, so the Apache-2
# edition is built on CloudNativePG's own PostgreSQL image, from the same pinned Debian source package the local
# stack builds (deploy/local/install.sh). Pin the base by digest in production (`@sha256:...`).
ARG CNPG_POSTGRES_IMAGE=ghcr.io/cloudnative-pg/postgresql:15.14-standard-bookworm
FROM ${CNPG_POSTGRES_IMAGE} AS timescaledb
ARG TIMESCALEDB_DEB_VERSION=2.19.3+dfsg-1+deb13u1
USER root
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-server-dev-15 cmake gcc make dpkg-dev libssl-dev \
    && echo "deb-src http://deb.debian.org/debian trixie main" > /etc/apt/sources.list.d/trixie-src.list \
    && apt-get update \
    && mkdir /tmp/tsdb && cd /tmp/tsdb \
    && apt-get source --download-only "timescaledb=${TIMESCALEDB_DEB_VERSION}" \
    && dpkg-source -x --skip-patches timescaledb_*.dsc src && cd src \
    && ./bootstrap -DAPACHE_ONLY=1 -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF -DWARNINGS_AS_ERRORS=OFF \
         -DSEND_TELEMETRY_DEFAULT=OFF -DUSE_TELEMETRY=OFF \
    && make -C build -j"$(nproc)" install \
    && cd / && rm -rf /tmp/tsdb /etc/apt/sources.list.d/trixie-src.list \
    && apt-get purge -y --auto-remove postgresql-server-dev-15 cmake gcc make dpkg-dev libssl-dev \
    && rm -rf /var/lib/apt/lists/*
USER 26

# qsmon services image: worker, alert evaluator, notifier, ingest API, read API, report scheduler.
FROM python:3.11-slim-bookworm AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy
RUN apt-get update && apt-get install -y --no-install-recommends fonts-wqy-microhei \
    && rm -rf /var/lib/apt/lists/*
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
# The layers, bottom up (docs/architecture.md): ground, producers and streams, indicators and notify, alerts,
# dashboards and reports, the read API, the command line on top.
COPY qsmon qsmon
COPY producers producers
COPY streams streams
COPY indicators indicators
COPY notify notify
COPY cases cases
COPY alerts alerts
COPY dashboards dashboards
COPY reports reports
COPY federation federation
COPY readapi readapi
COPY cli cli
COPY bench bench
COPY plans plans
RUN uv sync --frozen --no-dev
ENV PATH=/app/.venv/bin:$PATH MPLCONFIGDIR=/tmp/matplotlib
# /app stays root-owned and read-only to the services; what they write goes to volumes mounted on these
# directories (a new named volume takes the directory's owner, so the qsmon user can write it) or to /tmp.
RUN useradd --system --uid 10001 qsmon \
    && mkdir -p /reports /rules && chown qsmon:qsmon /reports /rules
USER qsmon
ENTRYPOINT ["qsmon"]
CMD ["--help"]
