"""Collects an agent's events and waits for them, for the engine tests."""

import threading
import time


class EventRecorder:
    def __init__(self):
        self.events = []
        self._cv = threading.Condition()

    def __call__(self, payload):
        with self._cv:
            self.events.append(payload)
            self._cv.notify_all()

    def names(self, call_only=False):
        with self._cv:
            return [e["name"] for e in self.events if not call_only or "call" in e]

    def call_events(self):
        with self._cv:
            return [e for e in self.events if "call" in e]

    def wait_for(self, name, count=1, timeout=20.0):
        """Wait until ``name`` was emitted ``count`` times; return the last such event."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                matches = [e for e in self.events if e["name"] == name]
                if len(matches) >= count:
                    return matches[count - 1]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"no {name} event within {timeout}s; got {[e['name'] for e in self.events]}"
                    )
                self._cv.wait(remaining)

    def clear(self):
        with self._cv:
            self.events.clear()
