"""One Stockbridge per data folder: a second launch raises the running window instead."""

from __future__ import annotations

import hashlib
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket


def server_name(data_dir: Path) -> str:
    digest = hashlib.sha1(str(Path(data_dir).resolve()).encode()).hexdigest()[:12]
    return f"stockbridge-{digest}"


class SingleInstance(QObject):
    """Listens on a local socket named after the data folder; ``raise_requested`` fires when
    another launch knocks."""

    raise_requested = Signal()

    def __init__(self, data_dir: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = server_name(data_dir)
        self.server: QLocalServer | None = None

    def already_running(self, timeout_ms: int = 500) -> bool:
        """True when another instance answered; it has then been asked to show itself."""
        socket = QLocalSocket()
        socket.connectToServer(self.name)
        if socket.waitForConnected(timeout_ms):
            socket.write(b"raise\n")
            socket.flush()
            socket.waitForBytesWritten(timeout_ms)
            socket.disconnectFromServer()
            return True
        return False

    def listen(self) -> bool:
        self.server = QLocalServer(self)
        if not self.server.listen(self.name):
            # A crashed instance can leave a stale socket file behind (Unix); reclaim it.
            QLocalServer.removeServer(self.name)
            if not self.server.listen(self.name):
                return False
        self.server.newConnection.connect(self._knock)
        return True

    def _knock(self) -> None:
        assert self.server is not None
        while self.server.hasPendingConnections():
            conn = self.server.nextPendingConnection()
            conn.readyRead.connect(conn.readAll)
            conn.disconnected.connect(conn.deleteLater)
        self.raise_requested.emit()

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
