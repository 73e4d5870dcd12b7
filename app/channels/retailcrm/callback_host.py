"""Keeps a loopback :class:`CallbackReceiver` running for each RetailCRM channel whose
stock callback is switched on (window and ``stockbridge sync`` alike).

The receiver's thread only frames HTTP; the answer is worked out by ``answer`` (the
window hands it to the engine thread, where the database lives) within a time bound.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from app import secrets
from app.channels.retailcrm.callback import CallbackReceiver
from app.channels.retailcrm.inventory import InventoryEntry
from app.channels.retailcrm.service import callback_plan
from app.settings import channel_setting

log = logging.getLogger(__name__)

# (channel name, offers asked about) → entries to answer with.
Answer = Callable[[str, list[dict[str, Any]]], list[InventoryEntry]]


class CallbackHost:
    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.receivers: dict[str, CallbackReceiver] = {}
        self.problems: dict[str, str] = {}  # channel → why its receiver is not running

    def reconcile(self, channels: Iterable[Any]) -> dict[str, str]:
        """Start receivers for channels switched on, stop the others; returns new problems.

        ``channels`` are rows with ``name``, ``platform``, ``enabled`` and ``settings``
        (dicts or objects). A problem is reported once per channel until it changes.
        """
        wanted: dict[str, int] = {}
        for row in channels:
            get = row.get if isinstance(row, dict) else lambda k, r=row: getattr(r, k)
            settings = get("settings") or {}
            if get("platform") != "retailcrm" or not get("enabled"):
                continue
            url, _points, _problem = callback_plan(settings)
            if url:
                wanted[get("name")] = int(channel_setting(settings, "stock_callback_port"))
        for name in [n for n in self.receivers if n not in wanted]:
            self.receivers.pop(name).stop()
            self.problems.pop(name, None)
        new_problems: dict[str, str] = {}
        for name, port in wanted.items():
            running = self.receivers.get(name)
            if running is not None and running.port == port:
                continue
            if running is not None:
                self.receivers.pop(name).stop()
            problem = self._start(name, port)
            if problem and self.problems.get(name) != problem:
                new_problems[name] = problem
            if problem:
                self.problems[name] = problem
            else:
                self.problems.pop(name, None)
        return new_problems

    def _start(self, name: str, port: int) -> str:
        try:
            client_id = secrets.load(f"{name}:client_id")
        except (secrets.MissingSecret, secrets.SecretStoreUnavailable):
            return "the channel is not registered in RetailCRM yet; it will be at the next sync"
        receiver = CallbackReceiver(
            lambda offers, n=name: self.answer(n, offers), client_id=client_id, port=port
        )
        try:
            receiver.start()
        except OSError as exc:
            return f"port {port} is in use ({exc.strerror}); choose another in the settings"
        self.receivers[name] = receiver
        log.info("%s: answering RetailCRM's stock requests on 127.0.0.1:%d", name, port)
        return ""

    def stop(self) -> None:
        for receiver in self.receivers.values():
            receiver.stop()
        self.receivers.clear()
