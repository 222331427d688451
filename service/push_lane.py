"""The push lane: what the browsers wait for, written as soon as the engine emits it.

Each engine event becomes, in a short transaction, the bus notification to its user (with
who a call is with), the user's session state and their colleagues' view of their line
(``cti.push._cti_handle_events``, the bus adapter); events that queued up while a
transaction ran are written together in the next one. The call events then go to the log
lanes, which record them in the call log and chatter at their own pace (``log_lane``).

While the database cannot be reached, the lane keeps what it has and what queues up behind
it (up to MAX_SPOOLED_EVENTS) and tries again with backoff: a short outage loses no event.
"""

import datetime
import logging
import queue
import threading
import time

import psycopg2
from odoo.addons.bus.models.bus import ODOO_NOTIFY_FUNCTION, get_notify_payloads
from psycopg2 import sql

from .database import CONNECTION_ERRORS, MAX_BACKOFF
from .push_memory import WATCH_KEY, PushMemory

_logger = logging.getLogger(__name__)

# Where Odoo's bus listens for NOTIFY imbus, and how it is notified.
BUS_DATABASE = "postgres"
NOTIFY_QUERY = sql.SQL("SELECT {}(%s, %s)").format(sql.Identifier(ODOO_NOTIFY_FUNCTION))
# Events kept in memory, at most, while the database is unavailable (the oldest go first).
MAX_SPOOLED_EVENTS = 20000
# Events waiting for the lane, at most; more are dropped (see PushLane.put).
MAX_QUEUED_EVENTS = 50000
# Events that queued up while a transaction ran are pushed together, up to this many in
# one transaction: a burst of 200 calls then costs a few commits, not 200 in a row.
MAX_EVENT_BATCH = 50


def take_batch(lane, first, limit):
    """``first`` and what waits behind it in ``lane``, up to ``limit`` items; a stop marker
    (None) met on the way is put back, to end the lane after this batch."""
    batch = [first]
    while len(batch) < limit:
        try:
            item = lane.get_nowait()
        except queue.Empty:
            break
        if item is None:
            lane.put(None)
            break
        batch.append(item)
    return batch


class Idle:
    """Whether the push lane has nothing to do, and since when: the log lanes wait for it."""

    def __init__(self):
        self.event = threading.Event()
        self.since = time.monotonic()


class PushLane:
    """The push lane of one service host.

    :param database: the host's ``Database``
    :param log_lanes: the host's ``LogLanes``, which record the call events after
    :param on_ready: ``on_ready(user_id)`` once a user's READY is pushed (the sweep)
    """

    def __init__(self, database, log_lanes, on_ready):
        self.database = database
        self.log_lanes = log_lanes
        self.on_ready = on_ready
        # (user id, payload, agent state, monotonic time queued) in the order the engine
        # emits them; None stops the lane.
        self.events = queue.SimpleQueue()
        self.idle = log_lanes.push_idle
        # What the lane keeps from one transaction to the next (who calls are with...).
        self.memory = PushMemory()
        # (user id, destination) -> the record a click-to-call was started from
        self.origins = {}
        self._dropped = 0
        # The lane's connection to the database the bus listens on, for NOTIFY imbus.
        self._bus_cnx = None

    @property
    def db_name(self):
        return self.database.db_name

    def put(self, user_id, payload, agent_state):
        """Hand an engine event to the lane; beyond MAX_QUEUED_EVENTS waiting (a PBX
        flooding us while the database is slow), the event is dropped and counted."""
        if self.events.qsize() >= MAX_QUEUED_EVENTS:
            self._dropped += 1
            if self._dropped in (1, 10, 100) or self._dropped % 1000 == 0:
                _logger.warning(
                    "CTI service %s: %d event(s) dropped, %d waiting to be pushed",
                    self.db_name,
                    self._dropped,
                    self.events.qsize(),
                )
            return
        self.events.put((user_id, payload, agent_state, time.monotonic()))

    def stop(self):
        """The lane ends once it has pushed what is queued now."""
        self.events.put(None)

    def run(self):
        """Write the events in order, as soon as they come: one alone in the queue gets a
        short transaction of its own; those that queued up meanwhile go together."""
        events = self.events
        while True:
            if events.empty():
                self.idle.since = time.monotonic()
                self.idle.event.set()
            item = events.get()
            self.idle.event.clear()
            if item is None:
                break
            self._push_until_written(take_batch(events, item, MAX_EVENT_BATCH))
        self.idle.event.set()
        if self._bus_cnx is not None:
            try:
                self._bus_cnx.close()
            except psycopg2.Error:
                pass

    def _push_until_written(self, batch):
        """Push ``batch``; while the database cannot be reached, keep it and whatever
        queues up behind it and try again with backoff."""
        backoff = 0.5
        stopping = self.database.stopping
        while True:
            try:
                self._push_and_queue_logs(batch)
                return
            except CONNECTION_ERRORS as exc:
                if stopping.is_set():
                    _logger.warning(
                        "CTI service %s: stopping with %d event(s) not pushed: %s",
                        self.db_name,
                        len(batch),
                        exc,
                    )
                    return
                _logger.warning(
                    "CTI service %s: database unavailable (%s); %d event(s) kept, retrying in "
                    "%.1f s",
                    self.db_name,
                    exc,
                    len(batch),
                    backoff,
                )
            except Exception:
                # Never let the lane die: every later screen pop would be lost with it.
                _logger.exception(
                    "CTI service %s: could not push %d event(s)", self.db_name, len(batch)
                )
                return
            stopping.wait(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)
            batch = self._spool_more(batch)

    def _spool_more(self, batch):
        """``batch`` with the events queued meanwhile, bounded to MAX_SPOOLED_EVENTS."""
        while True:
            try:
                item = self.events.get_nowait()
            except queue.Empty:
                break
            if item is None:
                self.events.put(None)
                break
            batch.append(item)
        if len(batch) > MAX_SPOOLED_EVENTS:
            _logger.warning(
                "CTI service %s: dropped the %d oldest event(s) kept during the outage",
                self.db_name,
                len(batch) - MAX_SPOOLED_EVENTS,
            )
            del batch[: len(batch) - MAX_SPOOLED_EVENTS]
        return batch

    def _push_and_queue_logs(self, batch):
        """Push ``batch`` ([(user id, payload, agent state, monotonic time queued)]), then
        queue its call events on the log lanes."""
        started = time.monotonic()
        waited = started - batch[0][3]
        # When each event happened, for the call log: a log written late (behind a burst,
        # after a database outage) still has the call's real times.
        clock = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
        happened = [clock - datetime.timedelta(seconds=started - item[3]) for item in batch]
        batch = [item[:3] for item in batch]
        for user_id, payload, _agent_state in batch:
            call = payload.get("call")
            if call and payload["name"] == "INITIAL":
                origin = self.origins.pop((user_id, call.get("destination")), None)
                if origin:
                    call["origin"] = origin
        self._push_batch(batch)
        _logger.debug(
            "CTI service %s: pushed %d event(s) in %.1f ms, the first after %.1f ms queued",
            self.db_name,
            len(batch),
            (time.monotonic() - started) * 1000,
            waited * 1000,
        )
        for (user_id, payload, _agent_state), when in zip(batch, happened, strict=True):
            if payload.get(WATCH_KEY):
                continue  # a colleague's line only (see ServiceHost._reconcile_watchers)
            if "call" in payload:
                what = f"log the {payload['name']} event of user {user_id}"
                self.log_lanes.put(user_id, what, _log_call_event, user_id, payload, when)
            elif payload["name"] == "READY":
                self.on_ready(user_id)
                what = f"prepare the screen pops of user {user_id}"
                self.log_lanes.put(user_id, what, _prepare_screen_pops, user_id)

    def _push_batch(self, batch):
        """The events of ``batch`` in one transaction, or each in its own if that fails."""

        def together(env, events):
            return env["cti.push"]._cti_handle_events(events, self.memory)

        def alone(event):
            return self.database.in_transaction(
                lambda env: env["cti.push"]._cti_handle_events([event], self.memory),
                f"push the {event[1].get('name')} event of user {event[0]}",
            )

        for channels in self.database.all_or_each(batch, together, alone, "an event batch"):
            if channels:
                self._announce(channels)

    def _announce(self, channels):
        """``NOTIFY imbus`` for bus notifications just committed, as the bus module does
        after a commit, but on a connection the lane keeps open: the bus module opens a new
        one every time (3 ms, more than a whole screen pop's transaction)."""
        payloads = get_notify_payloads(channels)
        for attempt in (1, 2):
            try:
                if self._bus_cnx is None or self._bus_cnx.closed:
                    self._bus_cnx = self.database.connect(BUS_DATABASE)
                with self._bus_cnx.cursor() as cr:
                    for payload in payloads:
                        cr.execute(NOTIFY_QUERY, ("imbus", payload))
                return
            except psycopg2.Error as exc:
                try:
                    self._bus_cnx.close()
                except (psycopg2.Error, AttributeError):
                    pass
                self._bus_cnx = None
                if attempt == 2:
                    _logger.warning(
                        "CTI service %s: could not announce bus notifications (%s); the "
                        "browsers get them with the next ones",
                        self.db_name,
                        exc,
                    )


def _prepare_screen_pops(env, user_id):
    """What a user's first screen pop needs to know of their access rights, computed and
    cached by Odoo now (a few ms each), not when 200 calls come in at once."""
    env["cti.push"]._cti_visibility(env["res.users"].browse(user_id))


def _log_call_event(env, user_id, payload, when):
    env["cti.call"]._cti_record_event(env["res.users"].browse(user_id), payload, when)
