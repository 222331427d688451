"""One thread that runs every agent's logic and timers, so agents need no locks.

Network reads happen in one small reader thread per WebSocket (see ``transport``); they hand
each frame to the reactor with :meth:`Reactor.call_soon`. Everything that touches agent
state runs here, in order.
"""

import heapq
import itertools
import logging
import queue
import threading
import time

_logger = logging.getLogger(__name__)


class Timer:
    __slots__ = ("when", "callback", "args", "cancelled")

    def __init__(self, when, callback, args):
        self.when = when
        self.callback = callback
        self.args = args
        self.cancelled = False

    def cancel(self):
        self.cancelled = True


class Reactor:
    def __init__(self, name="cti-reactor"):
        self._queue = queue.SimpleQueue()
        self._timers = []
        self._counter = itertools.count()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._stopping = False

    def start(self):
        self._thread.start()
        return self

    def stop(self, timeout=5):
        self._stopping = True
        self._queue.put(None)
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    @property
    def in_reactor(self):
        return threading.current_thread() is self._thread

    def call_soon(self, callback, *args):
        """Run ``callback(*args)`` in the reactor thread; safe from any thread."""
        self._queue.put((callback, args))

    def call_later(self, delay, callback, *args):
        """Schedule ``callback(*args)`` after ``delay`` seconds; call from the reactor thread."""
        timer = Timer(time.monotonic() + delay, callback, args)
        heapq.heappush(self._timers, (timer.when, next(self._counter), timer))
        return timer

    def run_sync(self, callback, *args, timeout=10):
        """Run ``callback`` in the reactor and wait for its result (for other threads)."""
        if self.in_reactor:
            return callback(*args)
        done = threading.Event()
        outcome = {}

        def runner():
            try:
                outcome["value"] = callback(*args)
            except Exception as exc:  # noqa: BLE001 - handed back to the caller
                outcome["error"] = exc
            done.set()

        self.call_soon(runner)
        if not done.wait(timeout):
            raise TimeoutError("the CTI reactor did not answer in time")
        if "error" in outcome:
            raise outcome["error"]
        return outcome.get("value")

    def _run(self):
        while not self._stopping:
            timeout = None
            if self._timers:
                timeout = max(0.0, self._timers[0][0] - time.monotonic())
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                item = False
            if item is None:
                break
            if item:
                self._invoke(*item)
            now = time.monotonic()
            while self._timers and self._timers[0][0] <= now:
                _, _, timer = heapq.heappop(self._timers)
                if not timer.cancelled:
                    self._invoke(timer.callback, timer.args)

    @staticmethod
    def _invoke(callback, args):
        try:
            callback(*args)
        except Exception:
            _logger.exception(
                "CTI reactor callback %s failed", getattr(callback, "__qualname__", callback)
            )
