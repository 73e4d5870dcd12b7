"""The engine's own thread: an asyncio loop that owns the writing Hub.

All HTTP and all writes happen here, so the window never waits on the network or on
bulk SQL. The GUI awaits results through futures (qasync), and reads through its own
SQLite connection (WAL lets it read while this thread writes).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from app.hub import Hub

log = logging.getLogger(__name__)
T = TypeVar("T")


class EngineThread:
    """Runs ``Hub`` on a private event loop in a daemon thread."""

    def __init__(self, data_dir: Path, *, hub_factory: Callable[[Path], Hub] = Hub) -> None:
        self.data_dir = data_dir
        self._hub_factory = hub_factory
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="stockbridge-engine", daemon=True)
        self._ready = threading.Event()
        self._hub: Hub | None = None
        self._error: BaseException | None = None
        self._tasks: set[asyncio.Task] = set()

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._hub = self._hub_factory(self.data_dir)
        except BaseException as exc:  # reported to start() on the GUI thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        # Loop stopped: finish what was cancelled, then close the database.
        pending = [t for t in self._tasks if not t.done()]
        if pending:
            self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self._hub.close()
        self._loop.close()

    @property
    def hub(self) -> Hub:
        assert self._hub is not None, "engine thread not started"
        return self._hub

    def submit(self, work: Callable[[Hub], Awaitable[T] | T]) -> concurrent.futures.Future[T]:
        """Run ``work(hub)`` on the engine thread; returns a thread-safe future.

        ``work`` may be a plain function (runs inline on the engine loop, i.e. off the
        GUI thread) or return an awaitable.
        """

        async def runner() -> T:
            result = work(self.hub)
            if asyncio.iscoroutine(result) or isinstance(result, Awaitable):
                return await result  # type: ignore[misc]
            return result  # type: ignore[return-value]

        def schedule() -> asyncio.Task:
            task = self._loop.create_task(runner())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return task

        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def start_task() -> None:
            if future.cancelled():
                return
            task = schedule()
            # Cancelling the future from the GUI thread cancels the task on this loop.
            future.add_done_callback(
                lambda f: f.cancelled() and self._loop.call_soon_threadsafe(task.cancel)
            )

            def relay(t: asyncio.Task) -> None:
                if future.cancelled():
                    return
                if t.cancelled():
                    future.cancel()
                elif t.exception() is not None:
                    future.set_exception(t.exception())  # type: ignore[arg-type]
                else:
                    future.set_result(t.result())

            task.add_done_callback(relay)

        self._loop.call_soon_threadsafe(start_task)
        return future

    def stop(self, timeout: float = 10.0) -> None:
        """Cancel running work, stop the loop and close the database."""
        if not self._thread.is_alive():
            return

        def cancel_all() -> None:
            for task in list(self._tasks):
                task.cancel()
            self._loop.stop()

        self._loop.call_soon_threadsafe(cancel_all)
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("engine thread did not stop within %.0f s", timeout)
