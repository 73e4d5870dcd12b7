"""Webhook deliveries out of a sandbox twin, from a thread of its own.

A twin that plays a platform's webhooks queues each delivery (address, body, headers and
what to record about it); the courier POSTs them one by one and appends each outcome —
the HTTP status, or the error when the receiver could not be reached — to the twin's
``deliveries`` list under the twin's lock, so tests can wait for them.
"""

from __future__ import annotations

import queue
import threading
import urllib.error
import urllib.request
from typing import Any


class WebhookCourier:
    def __init__(
        self,
        name: str,
        lock: threading.Lock,
        deliveries: list[dict[str, Any]],
        *,
        timeout: float,
    ) -> None:
        self.name = name
        self.lock = lock
        self.deliveries = deliveries
        self.timeout = timeout
        self._queue: queue.Queue[tuple[str, bytes, dict[str, str], dict[str, Any]] | None]
        self._queue = queue.Queue()
        self._thread: threading.Thread | None = None

    def send(
        self, address: str, body: bytes, headers: dict[str, str], note: dict[str, Any]
    ) -> None:
        """Queue one POST; ``note`` is recorded with its outcome."""
        self._queue.put((address, body, headers, note))

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            address, body, headers, note = job
            request = urllib.request.Request(address, data=body, method="POST", headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as answer:  # noqa: S310 - loopback test URLs
                    outcome: dict[str, Any] = {"status": answer.status}
            except urllib.error.HTTPError as exc:
                outcome = {"status": exc.code}
            except (urllib.error.URLError, OSError) as exc:
                outcome = {"status": None, "error": str(exc)}
            with self.lock:
                self.deliveries.append(note | outcome)
