"""A TCP proxy a test can cut: every connection through it is dropped and new ones refused until restored.

Stands between one process and PostgreSQL (or Kafka) to drill an outage of that link alone. :meth:`black_hole`
drills the other kind of outage: nothing passes and nothing is closed, as when a route or a switch silently drops
the traffic, so neither end learns anything until the link is restored."""

from __future__ import annotations

import contextlib
import socket
import threading

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from qsmon.settings import Settings


class CuttableProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._open = threading.Event()
        self._open.set()
        self._flowing = threading.Event()  # cleared: traffic is held, as a black-holed route holds it
        self._flowing.set()
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, name="proxy-accept", daemon=True).start()

    @classmethod
    def to_database(cls, settings: Settings) -> CuttableProxy:
        """A proxy to the database of ``settings``."""
        pg = conninfo_to_dict(settings.dsn)
        return cls(str(pg.get("host", "127.0.0.1")), int(str(pg.get("port") or 5432)))

    def reaching(self, settings: Settings) -> Settings:
        """The same settings, with the database reached through this proxy."""
        params = conninfo_to_dict(settings.dsn) | {"host": "127.0.0.1", "port": str(self.port)}
        return settings.model_copy(update={"database_url": type(settings.database_url)(make_conninfo("", **params))})

    def cut(self) -> None:
        """Drop every connection; refuse new ones (accepted and closed at once) until :meth:`restore`."""
        self._open.clear()
        with self._lock:
            for s in self._sockets:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            self._sockets.clear()

    def black_hole(self) -> None:
        """Hold every byte both ways, and new connections, without closing anything, until :meth:`restore`."""
        self._flowing.clear()

    def restore(self) -> None:
        self._open.set()
        self._flowing.set()

    def close(self) -> None:
        self.cut()
        self._flowing.set()
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self._open.is_set():
                client.close()
                continue
            self._flowing.wait()  # a connection attempt into a black hole hangs (until the client gives up)
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                self._flowing.wait()
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            self._flowing.wait()  # an end that closed meanwhile is learnt of only when the link is back
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                with self._lock:
                    self._sockets.discard(s)
                s.close()
