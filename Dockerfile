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
