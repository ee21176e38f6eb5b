"""Fixtures shared by all tests. Integration fixtures talk to the real local stack (qsmon stack up)."""

from __future__ import annotations

import os
import socket
import uuid
import warnings
from collections.abc import Callable, Iterator
from urllib.parse import quote

import psycopg
import pytest

from qsmon.settings import Settings
from qsmon.storage import apply_migrations, connect
from qsmon.topics import drop_topics


def _stack_reachable(settings: Settings) -> str | None:
    """None when Kafka and PostgreSQL answer, else why not."""
    host, _, port = settings.kafka_bootstrap.partition(":")
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
    except OSError as exc:
        return f"Kafka at {settings.kafka_bootstrap}: {exc}"
    try:
        connect(settings.dsn).close()
    except Exception as exc:
        return f"PostgreSQL: {exc}"
    return None


@pytest.fixture(scope="session")
def base_settings() -> Settings:
    return Settings()


@pytest.fixture(scope="session")
def stack(base_settings: Settings) -> Settings:
    """The running local stack; integration tests fail loudly (not skip) when it is down in CI."""
    reason = _stack_reachable(base_settings)
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"local stack not reachable in CI: {reason}")
        pytest.skip(f"local stack not running (qsmon stack up): {reason}")
    return base_settings


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """Names unique to this test, so tests never see each other's topics, groups or schemas."""
    token = uuid.uuid4().hex[:8]

    def make(prefix: str) -> str:
        return f"{prefix}_{token}"

    return make


@pytest.fixture
def db_schema(stack: Settings, unique_name: Callable[[str], str]) -> Iterator[str]:
    """A fresh schema with all migrations applied; dropped after the test."""
    schema = unique_name("t")
    with connect(stack.dsn, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield schema
    finally:
        # A fresh connection: fault tests restart PostgreSQL under the test's feet.
        with connect(stack.dsn, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def settings(stack: Settings, db_schema: str, unique_name: Callable[[str], str]) -> Iterator[Settings]:
    """Settings of an isolated world: own schema (migrated), own topics and consumer group; its topics are
    deleted afterwards."""
    sep = "&" if "?" in stack.dsn else "?"
    dsn = f"{stack.dsn}{sep}options={quote(f'-c search_path={db_schema},public')}"
    isolated = stack.model_copy(
        update={
            "database_url": type(stack.database_url)(dsn),
            "results_topic": unique_name("results"),
            "dlq_topic": unique_name("dlq"),
            "changes_topic": unique_name("changes"),
            "worker_group": unique_name("group"),
        }
    )
    with connect(isolated.dsn) as conn:
        apply_migrations(conn)
    yield isolated
    try:
        drop_topics(isolated, timeout_s=10)
    except Exception as exc:  # a broker a fault test left down must not fail the test here
        warnings.warn(f"topics of {isolated.results_topic} not deleted: {exc!r}", stacklevel=1)


@pytest.fixture
def db(settings: Settings) -> Iterator[psycopg.Connection]:
    with connect(settings.dsn, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="session")
def promtool() -> str:
    import shutil

    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool not installed: deploy/local/install.sh installs Debian's prometheus package")
    return path
