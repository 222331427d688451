"""The log lanes: the call log and the chatter, written behind the push lane.

Recording a call event (``cti.call._cti_record_event``) costs many times more than pushing
it, so it is queued here by the push lane and done in transactions that step aside
whenever the push lane has work: a burst of 200 inbound calls pops 200 screens first and
logs 200 calls after. Each lane serves a shard of the users (user id modulo), so that one
user's calls are logged in order.
"""

import logging
import queue
import time

from .push_lane import take_batch

_logger = logging.getLogger(__name__)

# Work items run in one transaction of a log lane, at most.
MAX_LOG_BATCH = 10
# The log lanes wait until the push lane has been idle this long (seconds): a burst of calls
# comes over some time, and logging in its gaps would slow down the pushes of its rest.
LOG_QUIET = 0.05
# ... but not once a queued item has waited this long (seconds): under a steady load with
# no such gap, calls are still logged, this much behind at most, as fast as they come.
LOG_MAX_DELAY = 2.0
# One lane: logging is mostly Python, and every lane working during a burst takes a share of
# the interpreter from the push lane.
LOG_WRITERS = 1


class LogLanes:
    """The log lanes of one service host.

    :param database: the host's ``Database``
    :param push_idle: the push lane's ``Idle``, which the lanes wait for
    """

    def __init__(self, database, push_idle, count=LOG_WRITERS):
        self.database = database
        self.push_idle = push_idle
        self.queues = [queue.SimpleQueue() for _ in range(count)]

    def put(self, user_id, what, work, *args):
        """Queue ``work(env, *args)`` on the lane of ``user_id``; ``what`` it does, for the
        log should it fail."""
        lane = self.queues[user_id % len(self.queues)]
        lane.put((time.monotonic() + LOG_MAX_DELAY, what, work, args))

    def stop(self):
        """Each lane ends once it has done what is queued now."""
        for lane in self.queues:
            lane.put(None)

    def run(self, index):
        """Lane ``index``: run its work in order, up to MAX_LOG_BATCH in a transaction, each
        once the push lane is idle."""
        lane = self.queues[index]
        while True:
            item = lane.get()
            if item is None:
                return
            self.run_chunk(take_batch(lane, item, MAX_LOG_BATCH))

    def run_chunk(self, chunk):
        """``chunk`` in one transaction, or each item in its own if that fails."""

        def together(env, items):
            for due, _what, work, args in items:
                self._wait_for_quiet(due)
                work(env, *args)
                # Now, not all at commit: the wait before the next one is what keeps the
                # push lane from sharing the interpreter with a log lane.
                env.flush_all()

        def alone(item):
            due, what, work, args = item
            self._wait_for_quiet(due)
            database = self.database
            database.while_unavailable(
                lambda: database.in_transaction(lambda env: work(env, *args), what), what
            )

        self.database.all_or_each(chunk, together, alone, "a log chunk", unreachable_raises=False)

    def _wait_for_quiet(self, deadline):
        """Until the push lane has been idle for LOG_QUIET, or the monotonic ``deadline``."""
        stopping = self.database.stopping
        while not stopping.is_set():
            now = time.monotonic()
            if now >= deadline:
                return
            if not self.push_idle.event.wait(deadline - now):
                return
            quiet = time.monotonic() - self.push_idle.since
            if quiet >= LOG_QUIET:
                return
            time.sleep(LOG_QUIET - quiet)
