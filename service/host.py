"""The service host: the SIP agents of one database's logged-in CTI users, in this process.

Which process holds a user's agent is decided by PostgreSQL: a session-level advisory lock
per user, taken with ``pg_try_advisory_lock`` on a connection of our own (Odoo's pool
resets connections, which would drop session locks). Whoever holds the lock runs the agent;
every other process leaves that user alone. If the lock connection dies, every agent it
covered is dropped at once, since another process may take those users a moment later.

Commands come from web workers as ``cti.command`` rows plus ``NOTIFY cti_command``; events
go back in two lanes. The push lane writes what the browsers wait for (the bus notification,
with who a call is with, and the session state) in a short transaction as soon as the engine
emits an event, and writes the events that queued up meanwhile together. The log lanes then
record the call events in the call log and chatter, which costs many times more, in
transactions that step aside whenever the push lane has work: a burst of 200 inbound calls
pops 200 screens first and logs 200 calls after.
"""

import contextlib
import logging
import os
import queue
import select
import threading
import time
import zlib

import psycopg2
import psycopg2.errors
import psycopg2.extensions
from odoo import SUPERUSER_ID, api, fields, sql_db
from odoo.addons.bus.models.bus import ODOO_NOTIFY_FUNCTION, get_notify_payloads
from odoo.modules.registry import Registry
from psycopg2 import sql

from ..cti_engine import AgentConfig, UserAgent
from ..models.cti_account import PushMemory

_logger = logging.getLogger(__name__)

# First key of our advisory locks (the second is the user id), so that they cannot clash
# with another module's locks on the same database.
LOCK_NAMESPACE = zlib.crc32(b"cti_connector.agent") & 0x7FFFFFFF
CHANNELS = ("cti_command", "cti_session")
# Where Odoo's bus listens for NOTIFY imbus, and how it is notified.
BUS_DATABASE = "postgres"
NOTIFY_QUERY = sql.SQL("SELECT {}(%s, %s)").format(sql.Identifier(ODOO_NOTIFY_FUNCTION))
EXPIRED_MESSAGE = "The request came too late to be carried out; try again."
# Another process recording the same call at the same moment makes PostgreSQL refuse one
# of the two transactions; the loser is replayed, as Odoo replays HTTP requests.
RETRYABLE_ERRORS = (psycopg2.errors.SerializationFailure, psycopg2.errors.DeadlockDetected)
MAX_EVENT_ATTEMPTS = 5
# Events that queued up while a transaction ran are pushed together, up to this many in
# one transaction: a burst of 200 calls then costs a few commits, not 200 in a row.
MAX_EVENT_BATCH = 50
# Call events logged in one transaction of a log lane, at most.
MAX_LOG_BATCH = 10
# The log lanes wait until the push lane has been idle this long (seconds): a burst of calls
# comes over some time, and logging in its gaps would slow down the pushes of its rest.
LOG_QUIET = 0.05
# ... but not once a queued event has waited this long (seconds): under a steady load with
# no such gap, calls are still logged, this much behind at most, as fast as they come.
LOG_MAX_DELAY = 2.0
# Log lanes, each for a shard of the users (user id modulo), so that a user's calls are
# logged in order. One: logging is mostly Python, and every lane working during a burst
# takes a share of the interpreter from the push lane.
LOG_WRITERS = 1
# Agents whose settings are read in one transaction when many users start at once.
START_CHUNK = 100
# After an agent is READY, its first dialog document comes within a second or two; then the
# calls logged as open that it does not see any more ended while nobody watched.
SWEEP_DELAY = 3.0
UNSEEN_CAUSE = "ended while the CTI service was not running"
COMMAND_METHODS = {
    "call": lambda agent, p: agent.call(p.get("destination", "")),
    "answer": lambda agent, p: agent.answer(p.get("callId", "")),
    "terminate": lambda agent, p: agent.terminate(p.get("callId", "")),
    "transfer": lambda agent, p: agent.transfer(p.get("callId", ""), p.get("destination", "")),
    "hold": lambda agent, p: agent.hold(p.get("callId", "")),
    "resume": lambda agent, p: agent.resume(p.get("callId", "")),
}


class _OwnedUser:
    __slots__ = ("account_id", "agent", "version")

    def __init__(self, account_id, agent, version):
        self.account_id = account_id
        self.agent = agent
        self.version = version


class ServiceHost:
    """Runs the agents of the users of ``db_name`` that this process owns.

    :param reactor: the engine reactor shared by every agent of the process
    """

    def __init__(self, db_name, config, reactor):
        self.db_name = db_name
        self.config = config
        self.reactor = reactor
        self._owned = {}  # user id -> _OwnedUser
        # (user id, destination) -> the record a click-to-call was started from
        self._origins = {}
        # user id -> (monotonic due time, UTC datetime of READY): calls to sweep
        self._sweeps = {}
        self._lock_cnx = None
        # The push lane: (user id, payload, agent state) in the order the engine emits them.
        self._events = queue.SimpleQueue()
        # Set while the push lane has nothing to do, since _idle_since: the log lanes wait.
        self._push_idle = threading.Event()
        self._idle_since = time.monotonic()
        # What the push lane keeps from one transaction to the next (who calls are with...).
        self._memory = PushMemory()
        # The push lane's connection to the database the bus listens on, for NOTIFY imbus.
        self._bus_cnx = None
        # The log lanes: callables taking an environment, run in order per shard of users.
        self._logs = [queue.SimpleQueue() for _ in range(LOG_WRITERS)]
        self._stopping = threading.Event()
        self._threads = []
        # Set once the registry is loaded and the first users started.
        self.started = threading.Event()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self):
        targets = [(self.run, (), "main"), (self._push_events, (), "push")]
        targets += [(self._write_logs, (q,), f"log{n}") for n, q in enumerate(self._logs)]
        for target, args, name in targets:
            thread = threading.Thread(
                target=target, args=args, name=f"cti-{name}-{self.db_name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self, timeout=10):
        self._stopping.set()
        if not self._threads:
            return
        main, push, *logs = self._threads
        # In the order the work flows: the main thread logs the users out, the reactor emits
        # their LOGGED_OUT, the push lane writes them (the softphones and the accounts say
        # "Offline", not "Ready", while no service runs), the log lanes finish.
        main.join(timeout)
        with contextlib.suppress(Exception):
            self.reactor.run_sync(lambda: None, timeout=timeout)
        self._events.put(None)
        push.join(timeout)
        for lane in self._logs:
            lane.put(None)
        for thread in logs:
            thread.join(timeout)
        self._threads.clear()

    @property
    def owned_users(self):
        return set(self._owned)

    def run(self):
        backoff = 1.0
        while not self._stopping.is_set():
            try:
                self._ensure_lock_connection()
                # What other processes changed (access rights, rules, modules) shows here.
                Registry(self.db_name).check_signaling()
                self._reconcile()
                self.started.set()
                self._process_commands()
                self._sweep_unseen_calls()
                self._wait_for_notifications(self.config.reconcile_interval)
                backoff = 1.0
            except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
                _logger.warning(
                    "CTI service %s: database connection lost (%s); dropping %d " "SIP session(s)",
                    self.db_name,
                    exc,
                    len(self._owned),
                )
                self._drop_all()
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, 30.0)
            except Exception:
                _logger.exception("CTI service %s: unexpected error", self.db_name)
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, 30.0)
        self._shutdown()

    def _shutdown(self):
        for user_id in list(self._owned):
            self._release(user_id)
        self._close_lock_connection()

    # -- ownership -------------------------------------------------------------------------

    def _ensure_lock_connection(self):
        if self._lock_cnx is not None and not self._lock_cnx.closed:
            return
        cnx = self._connect(self.db_name)
        with cnx.cursor() as cr:
            for channel in CHANNELS:
                cr.execute(f"LISTEN {channel}")
        self._lock_cnx = cnx

    def _connect(self, db_name):
        """A connection of our own (autocommit) to ``db_name``, where Odoo would connect."""
        _name, info = sql_db.connection_info_for(db_name)
        if self.config.db_host:
            info["host"] = self.config.db_host
        if self.config.db_port:
            info["port"] = self.config.db_port
        # The pid tells an operator (and the multi-node test) which process owns whom.
        info["application_name"] = f"odoo-cti-service/{os.getpid()}"
        cnx = psycopg2.connect(**info)
        cnx.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
        return cnx

    def _close_lock_connection(self):
        cnx, self._lock_cnx = self._lock_cnx, None
        if cnx is not None:
            with contextlib.suppress(psycopg2.Error):
                cnx.close()

    def _try_lock(self, user_id):
        with self._lock_cnx.cursor() as cr:
            cr.execute("SELECT pg_try_advisory_lock(%s, %s)", (LOCK_NAMESPACE, user_id))
            return cr.fetchone()[0]

    def _unlock(self, user_id):
        if self._lock_cnx is None or self._lock_cnx.closed:
            return
        with self._lock_cnx.cursor() as cr:
            cr.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_NAMESPACE, user_id))

    def _drop_all(self):
        """The lock connection is gone: our locks with it. Stop every agent now."""
        for owned in self._owned.values():
            owned.agent.logout()
        self._owned.clear()
        self._close_lock_connection()

    def _reconcile(self):
        """Start agents for wanted users we can lock; stop those no longer wanted."""
        wanted = self._wanted_accounts()
        for user_id in [uid for uid in self._owned if uid not in wanted]:
            self._release(user_id)
        to_start = []
        for user_id, (account_id, version) in wanted.items():
            owned = self._owned.get(user_id)
            if owned is not None and owned.version != version:
                _logger.info(
                    "CTI service %s: settings of user %s changed, reconnecting",
                    self.db_name,
                    user_id,
                )
                self._release(user_id)
                owned = None
            if owned is not None or len(self._owned) + len(to_start) >= self.config.max_users:
                continue
            if self._try_lock(user_id):
                to_start.append((user_id, account_id, version))
        # Settings are read in chunks, each in one transaction: when hundreds of users log in
        # at once (a restart, a takeover) their agents start sooner than one by one.
        # If reading fails, the users locked but not started are let go for the next round.
        pending = {user_id for user_id, _, _ in to_start}
        try:
            for first in range(0, len(to_start), START_CHUNK):
                chunk = to_start[first : first + START_CHUNK]
                configs = self._agent_configs([account_id for _, account_id, _ in chunk])
                for user_id, account_id, version in chunk:
                    pending.discard(user_id)
                    agent = self._make_agent(configs.get(account_id), user_id)
                    if agent is None:
                        self._unlock(user_id)
                        continue
                    self._owned[user_id] = _OwnedUser(account_id, agent, version)
                    agent.login()
        finally:
            for user_id in pending:
                self._unlock(user_id)

    def _release(self, user_id):
        owned = self._owned.pop(user_id, None)
        if owned is not None:
            owned.agent.logout()
        self._unlock(user_id)

    def _wanted_accounts(self):
        with self._cursor() as cr:
            cr.execute(
                """
                SELECT a.user_id, a.id, a.write_date, p.write_date
                  FROM cti_account a
                  JOIN res_users u ON u.id = a.user_id
                  JOIN cti_pbx p ON p.id = a.pbx_id
                 WHERE a.active AND a.session_wanted AND u.active AND p.active
                """
            )
            return {row[0]: (row[1], (row[2], row[3])) for row in cr.fetchall()}

    def _agent_configs(self, account_ids):
        """{account id: settings of its agent, or None when it cannot be used}."""
        with self._cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            return {
                account.id: account._cti_agent_config()
                for account in env["cti.account"].browse(account_ids)
            }

    def _make_agent(self, config, user_id):
        if config is None:
            return None
        agent = UserAgent(AgentConfig(**config), self.reactor, None)
        agent.on_event = lambda payload: self._events.put(
            (user_id, payload, agent.state, time.monotonic())
        )
        return agent

    # -- commands --------------------------------------------------------------------------

    def _process_commands(self):
        """Claim our users' pending commands; expire anyone's that waited too long."""
        to_run = []
        now = time.monotonic()
        with self._cursor() as cr:
            # clock_timestamp(), not now(): now() is when the transaction began, which says
            # nothing about how long a command has waited.
            cr.execute(
                """
                WITH clock AS (SELECT clock_timestamp() AT TIME ZONE 'UTC' AS utc)
                SELECT id, user_id, name, payload, expire_date < clock.utc AS expired
                  FROM cti_command, clock
                 WHERE state = 'pending' AND (user_id = ANY(%s) OR expire_date < clock.utc)
                 ORDER BY id
                   FOR UPDATE OF cti_command SKIP LOCKED
                """,
                (list(self._owned),),
            )
            for command_id, user_id, name, payload, expired in cr.fetchall():
                if expired or user_id not in self._owned:
                    state = "expired"
                    self._events.put(
                        (user_id, {"name": "ERROR", "message": EXPIRED_MESSAGE}, None, now)
                    )
                elif name in COMMAND_METHODS:
                    state = "done"
                    to_run.append((user_id, name, payload or {}))
                    if name == "call" and (payload or {}).get("origin"):
                        self._origins[(user_id, payload.get("destination"))] = payload["origin"]
                else:
                    state = "failed"
                cr.execute(
                    "UPDATE cti_command SET state = %s, "
                    "write_date = clock_timestamp() AT TIME ZONE 'UTC' WHERE id = %s",
                    (state, command_id),
                )
        for user_id, name, payload in to_run:
            owned = self._owned.get(user_id)
            if owned is not None:
                COMMAND_METHODS[name](owned.agent, payload)

    # -- events ----------------------------------------------------------------------------

    def _push_events(self):
        """The push lane: write the engine events in order, as soon as they come. An event
        alone in the queue gets a short transaction of its own; those that queued up while
        the previous transaction ran (a burst of calls) are written together in one. Then
        the call events go to the log lanes."""
        events = self._events
        while True:
            if events.empty():
                self._idle_since = time.monotonic()
                self._push_idle.set()
            item = events.get()
            self._push_idle.clear()
            if item is None:
                break
            batch = [item]
            while len(batch) < MAX_EVENT_BATCH:
                try:
                    item = events.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    events.put(None)  # after this batch
                    break
                batch.append(item)
            try:
                self._push_and_queue_logs(batch)
            except Exception:
                # Never let the lane die: every later screen pop would be lost with it.
                _logger.exception(
                    "CTI service %s: could not push %d event(s)", self.db_name, len(batch)
                )
        self._push_idle.set()
        if self._bus_cnx is not None:
            with contextlib.suppress(psycopg2.Error):
                self._bus_cnx.close()

    def _push_and_queue_logs(self, batch):
        """Push ``batch`` ([(user id, payload, agent state, monotonic time queued)]), then
        queue its call events on the log lanes."""
        started = time.monotonic()
        waited = started - batch[0][3]
        batch = [item[:3] for item in batch]
        for user_id, payload, _agent_state in batch:
            call = payload.get("call")
            if call and payload["name"] == "INITIAL":
                origin = self._origins.pop((user_id, call.get("destination")), None)
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
        for user_id, payload, _agent_state in batch:
            if "call" in payload:
                what = f"log the {payload['name']} event of user {user_id}"
                self._log(user_id, what, self._log_call_event, user_id, payload)
            elif payload["name"] == "READY":
                self._sweeps[user_id] = (
                    time.monotonic() + SWEEP_DELAY,
                    fields.Datetime.now(),
                )
                what = f"prepare the screen pops of user {user_id}"
                self._log(user_id, what, self._prepare_screen_pops, user_id)

    def _push_batch(self, batch):
        """Push the events of ``batch`` in one transaction; if anything goes wrong (an
        event that cannot be pushed), nothing of it is kept and each event is pushed again
        in a transaction of its own, with its own retries."""
        channels = None
        if len(batch) > 1:
            try:
                with self._cursor() as cr:
                    env = api.Environment(cr, SUPERUSER_ID, {})
                    channels = env["cti.account"]._cti_handle_events(batch, self._memory)
            except Exception:  # noqa: BLE001 - replayed one by one below, which logs
                _logger.debug("CTI service %s: replaying a batch event by event", self.db_name)
        if channels is not None:
            self._announce(channels)
            return
        for user_id, payload, agent_state in batch:
            channels = self._in_transaction(
                lambda env, event=(user_id, payload, agent_state): env[
                    "cti.account"
                ]._cti_handle_events([event], self._memory),
                f"push the {payload.get('name')} event of user {user_id}",
            )
            if channels:
                self._announce(channels)

    def _announce(self, channels):
        """``NOTIFY imbus`` for bus notifications just committed, as the bus module does
        after a commit, but on a connection the push lane keeps open: the bus module opens
        a new one every time (3 ms, more than a whole screen pop's transaction)."""
        payloads = get_notify_payloads(channels)
        for attempt in (1, 2):
            try:
                if self._bus_cnx is None or self._bus_cnx.closed:
                    self._bus_cnx = self._connect(BUS_DATABASE)
                with self._bus_cnx.cursor() as cr:
                    for payload in payloads:
                        cr.execute(NOTIFY_QUERY, ("imbus", payload))
                return
            except psycopg2.Error as exc:
                with contextlib.suppress(psycopg2.Error, AttributeError):
                    self._bus_cnx.close()
                self._bus_cnx = None
                if attempt == 2:
                    _logger.warning(
                        "CTI service %s: could not announce bus notifications (%s); the "
                        "browsers get them with the next ones",
                        self.db_name,
                        exc,
                    )

    def _log(self, user_id, what, work, *args):
        """Queue ``work(env, *args)`` on the log lane of ``user_id``; ``what`` it does, for
        the log should it fail."""
        self._logs[user_id % len(self._logs)].put(
            (time.monotonic() + LOG_MAX_DELAY, what, work, args)
        )

    @staticmethod
    def _prepare_screen_pops(env, user_id):
        """What a user's first screen pop needs to know of their access rights, computed and
        cached by Odoo now (a few ms each), not when 200 calls come in at once."""
        env["cti.account"]._cti_visibility(env["res.users"].browse(user_id))

    @staticmethod
    def _log_call_event(env, user_id, payload):
        env["cti.call"]._cti_record_event(env["res.users"].browse(user_id), payload)

    def _write_logs(self, lane):
        """A log lane: run the queued work in order, up to MAX_LOG_BATCH in a transaction,
        each waiting until the push lane is idle."""
        while True:
            item = lane.get()
            if item is None:
                return
            chunk = [item]
            while len(chunk) < MAX_LOG_BATCH:
                try:
                    item = lane.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    lane.put(None)  # after this chunk
                    break
                chunk.append(item)
            self._log_chunk(chunk)

    def _log_chunk(self, chunk):
        if len(chunk) > 1:
            try:
                with self._cursor() as cr:
                    env = api.Environment(cr, SUPERUSER_ID, {})
                    for due, _what, work, args in chunk:
                        self._wait_for_quiet(due)
                        work(env, *args)
                        # Now, not all at commit: the wait before the next one is what
                        # keeps the push lane from sharing the interpreter with a log lane.
                        env.flush_all()
                return
            except Exception:  # noqa: BLE001 - replayed one by one below, which logs
                _logger.debug("CTI service %s: replaying a log chunk one by one", self.db_name)
        for due, what, work, args in chunk:
            self._wait_for_quiet(due)
            self._in_transaction(lambda env, work=work, args=args: work(env, *args), what)

    def _wait_for_quiet(self, deadline):
        """Until the push lane has been idle for LOG_QUIET, or the monotonic ``deadline``."""
        while not self._stopping.is_set():
            now = time.monotonic()
            if now >= deadline:
                return
            if not self._push_idle.wait(deadline - now):
                return
            quiet = time.monotonic() - self._idle_since
            if quiet >= LOG_QUIET:
                return
            time.sleep(LOG_QUIET - quiet)

    def _in_transaction(self, work, what):
        """Run ``work(env)`` in a transaction of its own, replayed when PostgreSQL refuses
        it for a concurrent one (as Odoo replays HTTP requests); logged if it fails.

        :return: what ``work`` returned once committed, None if it failed
        """
        for attempt in range(1, MAX_EVENT_ATTEMPTS + 1):
            try:
                with self._cursor() as cr:
                    result = work(api.Environment(cr, SUPERUSER_ID, {}))
                return result
            except RETRYABLE_ERRORS as exc:
                if attempt < MAX_EVENT_ATTEMPTS:
                    time.sleep(0.05 * attempt)
                    continue
                error = exc
            except Exception as exc:  # noqa: BLE001 - logged; the next events still go out
                error = exc
            _logger.error("CTI service %s: could not %s", self.db_name, what, exc_info=error)
            return None

    def _sweep_unseen_calls(self):
        """Queue the sweep of the users whose agent is READY since SWEEP_DELAY: behind the
        call events already queued on their log lane, so that it sees them logged."""
        now = time.monotonic()
        for user_id, (due, ready_at) in list(self._sweeps.items()):
            if due > now:
                continue
            del self._sweeps[user_id]
            owned = self._owned.get(user_id)
            if owned is None or not owned.agent.is_connected():
                continue
            self._log(
                user_id,
                f"finish the calls of user {user_id} that ended unseen",
                self._finish_unseen,
                user_id,
                owned.agent.active_call_ids(),
                ready_at,
            )

    def _finish_unseen(self, env, user_id, active, ready_at):
        finished = env["cti.call"]._cti_finish_unseen(
            env["res.users"].browse(user_id), active, UNSEEN_CAUSE, ready_at
        )
        if finished:
            _logger.info(
                "CTI service %s: %d call(s) of user %s ended unseen",
                self.db_name,
                len(finished),
                user_id,
            )

    # -- helpers ---------------------------------------------------------------------------

    def _cursor(self):
        return Registry(self.db_name).cursor()

    def _wait_for_notifications(self, timeout):
        cnx = self._lock_cnx
        deadline = time.monotonic() + timeout
        while not self._stopping.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            readable, _, _ = select.select([cnx], [], [], min(remaining, 1.0))
            if readable:
                cnx.poll()
                if cnx.notifies:
                    cnx.notifies.clear()
                    return
            else:
                # Finds a dead connection even when nothing is being notified.
                with cnx.cursor() as cr:
                    cr.execute("SELECT 1")
