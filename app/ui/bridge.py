"""The one object that turns engine work and events into Qt signals.

Widgets never touch the writing database or the network: they hand work to
``Bridge.run`` (it runs on the engine thread) and get the result back on the GUI
thread through ``on_done`` / ``on_error``. Reads for display go through ``reader``,
the GUI thread's own SQLite connection.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from app import secrets
from app.hub import Hub
from app.settings import Settings, channel_setting
from app.store.db import Database
from app.ui.worker import EngineThread

log = logging.getLogger(__name__)
BACKUP_DELAY_SECONDS = 600.0

IDLE, SYNCING, ERROR, PAUSED = "idle", "syncing", "error", "paused"
WALL_JUMP_SECONDS = 120.0  # a laptop that slept this long gets a fresh sync on wake


@dataclass(slots=True)
class ChannelState:
    state: str = IDLE
    last_started: float = 0.0  # monotonic
    last_finished: float | None = None  # wall clock
    last_error: str = ""


class Bridge(QObject):
    job_done = Signal(int, object, object)  # token, result, error (internal: thread hop)
    sync_state_changed = Signal(str, str)  # channel, state
    sync_finished = Signal(str, object)  # channel, report dict
    progress = Signal(str, str, int)  # channel, stage, count
    data_changed = Signal()
    notify = Signal(str, str, str)  # title, message, kind ("info", "warning", "error")
    paused_changed = Signal(bool)

    def __init__(
        self,
        data_dir: Path,
        *,
        hub_factory: Callable[[Path], Hub] = Hub,
        tick_ms: int = 5000,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.data_dir = data_dir
        self.engine = EngineThread(data_dir, hub_factory=hub_factory)
        self.engine.start()  # opens (and migrates) the database before the reader does
        self.reader = Database.in_dir(data_dir)
        self.settings = Settings(self.reader)
        self.states: dict[str, ChannelState] = {}
        self.paused = False
        self._tokens = itertools.count(1)
        self._callbacks: dict[int, tuple[Callable | None, Callable | None]] = {}
        self._futures: dict[int, Any] = {}
        self.job_done.connect(self._deliver)
        self.engine.submit(self._install_progress)
        self._timer = QTimer(self)
        self._timer.setInterval(tick_ms)
        self._timer.timeout.connect(self.tick)
        self._wall = time.time()
        self._mono = time.monotonic()
        self._stopped = False
        self.receiver = None  # webhook receiver, started when a channel has a public address
        self.stock_callbacks = None  # RetailCRM stock-request receivers, when switched on
        self._receiver_failed = False
        self._new_listings_told: dict[str, int] = {}
        self._backup_day = ""  # the day the automatic backup was last attempted
        # The first automatic backup waits until start-up work (first syncs) is done.
        self.backup_after = time.monotonic() + BACKUP_DELAY_SECONDS

    # -- running work on the engine thread -----------------------------------------------
    def _install_progress(self, hub: Hub) -> None:
        hub.engine.on_progress = lambda ch, stage, n: self.progress.emit(ch, stage, n)

    def run(
        self,
        work: Callable[[Hub], Any],
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> int:
        """Run ``work(hub)`` on the engine thread; callbacks come back on the GUI thread."""
        token = next(self._tokens)
        self._callbacks[token] = (on_done, on_error)
        future = self.engine.submit(work)
        self._futures[token] = future

        def finished(f) -> None:
            if f.cancelled():
                self.job_done.emit(token, None, asyncio.CancelledError())
            else:
                self.job_done.emit(
                    token, f.result() if f.exception() is None else None, f.exception()
                )

        future.add_done_callback(finished)
        return token

    def cancel(self, token: int) -> bool:
        """Stop a running job (its callbacks are not called). Work is transactional per
        page, so what was imported so far stays and the next sync carries on."""
        future = self._futures.get(token)
        if future is None:
            return False
        self._callbacks.pop(token, None)
        return future.cancel() or not future.done()

    async def call(self, work: Callable[[Hub], Any]) -> Any:
        """The same as ``run`` for coroutines on the GUI's qasync loop."""
        return await asyncio.wrap_future(self.engine.submit(work))

    @Slot(int, object, object)
    def _deliver(self, token: int, result: Any, error: BaseException | None) -> None:
        on_done, on_error = self._callbacks.pop(token, (None, None))
        self._futures.pop(token, None)
        if self._stopped:
            return  # the window is going away; nothing left to update
        if error is not None:
            if isinstance(error, asyncio.CancelledError):
                return
            if on_error is not None:
                on_error(error)
            else:
                log.error("background job failed: %s", secrets.redact(str(error)))
                self.notify.emit("Something went wrong", secrets.redact(str(error)), "error")
            return
        if on_done is not None:
            on_done(result)

    # -- scheduling -------------------------------------------------------------------
    def start(self) -> None:
        self._timer.start()
        QTimer.singleShot(0, self.tick)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._timer.stop()
        if self.receiver is not None:
            self.receiver.stop()
            self.receiver = None
        if self.stock_callbacks is not None:
            self.stock_callbacks.stop()
        self.engine.stop()
        self.reader.close()

    def syncing(self) -> bool:
        """Whether any channel's sync is running now."""
        return any(st.state == SYNCING for st in self.states.values())

    def set_paused(self, paused: bool) -> None:
        if paused == self.paused:
            return
        self.paused = paused
        for name, st in self.states.items():
            if st.state != SYNCING:
                st.state = PAUSED if paused else (ERROR if st.last_error else IDLE)
                self.sync_state_changed.emit(name, st.state)
        self.paused_changed.emit(paused)
        if not paused:
            self.tick()

    def channels(self) -> list[dict[str, Any]]:
        import json

        return [
            dict(r, settings=json.loads(r["settings"] or "{}"))
            for r in self.reader.all(
                "SELECT id, name, platform, enabled, settings FROM channels ORDER BY name"
            )
        ]

    @Slot()
    def tick(self) -> None:
        """Start every channel sync that is due. Runs on a timer; cheap."""
        now_wall, now_mono = time.time(), time.monotonic()
        jumped = (now_wall - self._wall) - (now_mono - self._mono) > WALL_JUMP_SECONDS
        self._wall, self._mono = now_wall, now_mono
        self._daily_backup()
        if self.paused:
            return
        self._ensure_receiver()
        self._ensure_stock_callbacks()
        default_minutes = self.settings.get("sync_interval_minutes")
        for ch in self.channels():
            if not ch["enabled"]:
                continue
            st = self.states.setdefault(ch["name"], ChannelState())
            minutes = channel_setting(ch["settings"], "sync_interval_minutes") or default_minutes
            due = st.last_started == 0 or now_mono - st.last_started >= minutes * 60
            if (due or jumped) and st.state != SYNCING:
                self.sync_channel(ch["name"])

    def _daily_backup(self) -> None:
        """Once a day, a checked copy of the database in the backups folder (a week kept)."""
        day = time.strftime("%Y-%m-%d")
        if day == self._backup_day or time.monotonic() < self.backup_after:
            return
        self._backup_day = day
        from app.store import backup

        def failed(exc: BaseException) -> None:
            log.warning("daily backup failed: %s", exc)
            self.notify.emit(
                "Today's backup was not made",
                f"{exc}. Your data is safe; Stockbridge tries again tomorrow, or use"
                " Settings → Back up now.",
                "warning",
            )

        self.run(lambda hub: backup.daily_backup(hub.db.conn, hub.data_dir), None, failed)

    def _ensure_receiver(self) -> None:
        """Listen for webhooks (on 127.0.0.1 only) once a channel has a public address."""
        if self.receiver is not None or self._receiver_failed:
            return
        if not any(
            c["settings"].get("webhook_public_url") for c in self.channels() if c["enabled"]
        ):
            return
        from app.sync.webhooks import WebhookReceiver

        try:
            self.receiver = WebhookReceiver(self._hint, port=self.settings.get("webhook_port"))
        except OSError as exc:
            self.notify.emit(
                "Instant updates are off",
                f"Port {self.settings.get('webhook_port')} is in use ({exc.strerror});"
                " choose another under Settings. Orders still come in on schedule.",
                "warning",
            )
            self._receiver_failed = True
            return
        self.receiver.start()

    def _ensure_stock_callbacks(self) -> None:
        """RetailCRM channels whose stock callback is on get a receiver on 127.0.0.1; its
        answers are worked out on the engine thread (where the database lives)."""
        channels = self.channels()
        if self.stock_callbacks is None:
            if not any(
                c["platform"] == "retailcrm" and c["settings"].get("stock_callback")
                for c in channels
            ):
                return
            from app.channels.retailcrm import service
            from app.channels.retailcrm.callback_host import CallbackHost

            def answer(name: str, offers: list) -> list:
                work = self.engine.submit(lambda hub: service.answer_callback(hub, name, offers))
                return work.result(timeout=20)

            self.stock_callbacks = CallbackHost(answer)
        for name, problem in self.stock_callbacks.reconcile(channels).items():
            self.notify.emit("RetailCRM stock requests are off", f"{name}: {problem}", "warning")

    def _hint(self, name: str, body: bytes) -> None:
        """A webhook arrived (receiver thread): re-read on the engine thread, then refresh."""
        future = self.engine.submit(lambda hub: hub.engine.apply_hint(name, body))

        def done(f) -> None:
            if not f.cancelled() and f.exception() is None and not self._stopped:
                self.sync_finished.emit(name, f.result().as_dict())
                self.data_changed.emit()

        future.add_done_callback(done)

    def sync_now(self, channel: str | None = None) -> None:
        """The merchant asked: sync now, even a channel paused after repeated failures."""
        names = [channel] if channel else [c["name"] for c in self.channels() if c["enabled"]]
        for name in names:
            self.sync_channel(name, force=True)

    def sync_channel(self, name: str, *, force: bool = False) -> None:
        st = self.states.setdefault(name, ChannelState())
        if st.state == SYNCING:
            return
        st.state = SYNCING
        st.last_started = time.monotonic()
        self.sync_state_changed.emit(name, SYNCING)

        async def work(hub: Hub):
            (report,) = await hub.sync(name, force=force)
            return report.as_dict()

        self.run(
            work,
            lambda report: self._sync_done(name, report),
            lambda exc: self._sync_done(
                name, {"ok": False, "error": secrets.redact(str(exc)), "channel": name}
            ),
        )

    def _sync_done(self, name: str, report: dict[str, Any]) -> None:
        st = self.states.setdefault(name, ChannelState())
        previous_error = st.last_error
        st.last_finished = time.time()
        st.last_error = "" if report.get("ok") else report.get("error", "")
        st.state = PAUSED if self.paused else (ERROR if st.last_error else IDLE)
        self.sync_state_changed.emit(name, st.state)
        self.sync_finished.emit(name, report)
        self.data_changed.emit()
        if (
            st.last_error
            and st.last_error != previous_error
            and self.settings.get("notify_problems")
        ):
            self.notify.emit(f"{name} needs attention", st.last_error, "error")
        if report.get("ok"):
            created = report.get("orders_created", 0)
            if created and self.settings.get("notify_new_orders"):
                self.notify.emit(
                    f"{created} new order{'s' if created != 1 else ''} from {name}",
                    "Stock is reserved for them.",
                    "info",
                )
            self._announce_new_listings(name)
            waiting = report.get("needs_mapping", 0)
            if waiting and self.settings.get("notify_problems"):
                self.notify.emit(
                    f"{waiting} order{'s' if waiting != 1 else ''} from {name} need a product",
                    "Link the products under Products to release them.",
                    "warning",
                )

    def _announce_new_listings(self, name: str) -> None:
        """A listing that appeared after set-up needs the merchant: say so once."""
        if not self.settings.get("notify_problems"):
            return
        count = int(
            self.reader.scalar(
                "SELECT COUNT(*) FROM listings l JOIN channels c ON c.id = l.channel_id"
                " WHERE c.name = ? AND l.is_new = 1 AND l.ignored = 0"
                " AND NOT EXISTS (SELECT 1 FROM product_links pl WHERE pl.listing_id = l.id)",
                (name,),
            )
            or 0
        )
        if count and count != self._new_listings_told.get(name):
            self.notify.emit(
                f"{count} new listing{'s' if count != 1 else ''} on {name}",
                "Link them to your products under Products so their stock is kept in step.",
                "warning",
            )
        self._new_listings_told[name] = count

    def overall_state(self) -> str:
        states = {s.state for s in self.states.values()}
        if self.paused:
            return PAUSED
        if SYNCING in states:
            return SYNCING
        if ERROR in states:
            return ERROR
        return IDLE
