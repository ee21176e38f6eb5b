"""The one Kafka producer every producer uses: acks=all, idempotent, compressed, batched.

Delivery errors are collected from the send callbacks and raised by :meth:`ResultSink.flush`,
so a caller never believes a record was sent when it was not.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from types import TracebackType
from typing import Any

from producers.exceptions import ProduceError
from qsmon.provenance import Sender
from qsmon.schema import InspectionResult
from qsmon.settings import Settings


def local_sender(kind: str, detail: str = "") -> Sender:
    """The bureau's own tool run by this host's user (internal authority: qsmon.provenance), e.g.
    ``import:alice:抽检.xlsx``."""
    import getpass

    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name (a container's numeric user)
        user = "?"
    return Sender(f"{kind}:{user}" + (f":{detail}" if detail else ""))


class ResultSink:
    """Every record carries its sender in headers (``sender``, default: the client id and this host's user)."""

    def __init__(
        self,
        settings: Settings,
        *,
        topic: str | None = None,
        client_id: str = "qsmon-producer",
        max_block_s: float = 60.0,
        sender: Sender | None = None,
    ) -> None:
        from kafka import KafkaProducer

        self.topic = topic or settings.results_topic
        self.sender = sender or local_sender(client_id)
        self._headers = self.sender.headers()
        self._producer = KafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap,
            client_id=client_id,
            acks="all",
            enable_idempotence=True,  # a broker-side retry never writes a record twice
            compression_type="lz4",
            linger_ms=10,
            batch_size=256 * 1024,
            max_in_flight_requests_per_connection=5,
            delivery_timeout_ms=120_000,
            max_block_ms=int(max_block_s * 1000),  # how long send() may wait for metadata or buffer space
        )
        self._lock = threading.Lock()
        self._errors: list[BaseException] = []
        self._pending = 0
        self.sent = 0

    def _on_success(self, _metadata: Any) -> None:
        with self._lock:
            self._pending -= 1
            self.sent += 1

    def _on_error(self, exc: BaseException) -> None:
        with self._lock:
            self._pending -= 1
            self._errors.append(exc)

    def send_raw(self, key: bytes, value: bytes) -> None:
        with self._lock:
            self._pending += 1
        future = self._producer.send(self.topic, key=key, value=value, headers=self._headers)
        future.add_callback(self._on_success)
        future.add_errback(self._on_error)

    def send(self, result: InspectionResult) -> None:
        self.send_raw(result.key, result.to_json())

    def send_all(self, results: Iterable[InspectionResult]) -> int:
        count = 0
        for result in results:
            self.send(result)
            count += 1
        return count

    def deliver(
        self, results: Iterable[InspectionResult], timeout_s: float = 30.0, sender: Sender | None = None
    ) -> int:
        """Send and wait until Kafka acknowledged exactly these records (acks=all); raise if any was not.
        ``sender``: who sent them (the ingest API's caller), else the sink's.

        A :class:`ProduceError` within about ``timeout_s`` when Kafka does not answer. Records already handed to
        the client may still reach Kafka afterwards; a retried request then repeats them, which the worker's
        de-duplication makes harmless.
        """
        from kafka.errors import KafkaError

        deadline = time.monotonic() + timeout_s
        try:
            headers = sender.headers() if sender is not None else self._headers
            futures = [self._producer.send(self.topic, key=r.key, value=r.to_json(), headers=headers) for r in results]
            self._producer.flush(timeout=max(0.0, deadline - time.monotonic()))
            for future in futures:
                future.get(timeout=max(0.0, deadline - time.monotonic()))
        except KafkaError as exc:
            raise ProduceError("Kafka did not acknowledge the records", error=repr(exc)) from exc
        return len(futures)

    def flush(self, timeout_s: float = 120.0) -> int:
        """Wait until Kafka acknowledged everything sent; returns the total acknowledged so far."""
        self._producer.flush(timeout=timeout_s)
        with self._lock:
            errors, self._errors = self._errors, []
            pending = self._pending
        if errors:
            raise ProduceError("Kafka did not acknowledge records", failed=len(errors), first_error=repr(errors[0]))
        if pending:
            raise ProduceError("records still unacknowledged after flush", pending=pending, timeout_s=timeout_s)
        return self.sent

    def close(self) -> None:
        self._producer.close(timeout=30)

    def __enter__(self) -> ResultSink:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if exc_type is None:
                self.flush()
        finally:
            self.close()
