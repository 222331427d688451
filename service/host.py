"""The service host: the SIP agents of one database's CTI users, in this process.

It owns the users whose lock it holds (``locks``): for each, an agent (the user is logged
in to the CTI) or a watcher (the user is not, and their line is shared with colleagues).
It starts and stops them as users log in and out (:meth:`ServiceHost._reconcile`, woken by
``NOTIFY cti_session``), builds one driver per PBX, and carries out their commands
(``commands``, woken by ``NOTIFY cti_command``). What the agents emit goes out in two
lanes: the push lane (``push_lane``: what the browsers wait for, at once) and the log lanes
(``log_lane``: the call log, behind it); the sweep (``sweep``) finishes the calls that
ended while nobody watched. ``database`` is how they all reach PostgreSQL.

Threads: the main one (:meth:`ServiceHost.run`: reconcile, commands, sweep), the push lane,
the log lanes; the agents themselves run in the engine's reactor thread.
"""

import logging
import threading

from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry

from ..cti_engine import AgentConfig, Call, Direction, UserAgent, make_driver
from . import commands
from .database import CONNECTION_ERRORS, Database
from .locks import UserLocks
from .log_lane import LogLanes
from .push_lane import Idle, PushLane
from .push_memory import WATCH_KEY
from .sweep import Sweeps

_logger = logging.getLogger(__name__)

# Agents whose settings are read in one transaction when many users start at once.
START_CHUNK = 100


class _OwnedUser:
    __slots__ = ("account_id", "agent", "pbx_id", "version")

    def __init__(self, account_id, agent, version, pbx_id=None):
        self.account_id = account_id
        self.agent = agent
        self.version = version
        self.pbx_id = pbx_id


class ServiceHost:
    """Runs the agents of the users of ``db_name`` that this process owns.

    :param reactor: the engine reactor shared by every agent of the process
    """

    def __init__(self, db_name, config, reactor):
        self.db_name = db_name
        self.config = config
        self.reactor = reactor
        self._stopping = threading.Event()
        self.database = Database(db_name, config, self._stopping)
        self.locks = UserLocks(self.database)
        self.log_lanes = LogLanes(self.database, Idle())
        self.sweeps = Sweeps(self.log_lanes)
        self.push_lane = PushLane(self.database, self.log_lanes, self.sweeps.schedule)
        self._owned = {}  # user id -> _OwnedUser
        # user id -> _OwnedUser of a watcher: the line of a colleague not logged in to the
        # CTI, for the others' Team tab (see _reconcile_watchers)
        self._watchers = {}
        # pbx id -> (its driver settings, the driver): one per PBX, shared by its users'
        # agents, built when the first of them starts and stopped after the last
        self._drivers = {}
        self._threads = []
        # Set once the registry is loaded and the first users started.
        self.started = threading.Event()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self):
        targets = [(self.run, (), "main"), (self.push_lane.run, (), "push")]
        targets += [
            (self.log_lanes.run, (n,), f"log{n}") for n in range(len(self.log_lanes.queues))
        ]
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
        try:
            self.reactor.run_sync(lambda: None, timeout=timeout)
        except Exception:  # noqa: BLE001, S110 - a reactor already stopped has nothing left
            pass
        self.push_lane.stop()
        push.join(timeout)
        self.log_lanes.stop()
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
                self.locks.ensure()
                # What other processes changed (access rights, rules, modules) shows here.
                Registry(self.db_name).check_signaling()
                self._reconcile()
                self.started.set()
                agents = {user_id: owned.agent for user_id, owned in self._owned.items()}
                more_commands = commands.claim(self.database, agents, self.push_lane)
                self.sweeps.run(agents)
                if not more_commands:
                    self.locks.wait_for_notifications(
                        self.config.reconcile_interval, self._stopping
                    )
                backoff = 1.0
            except CONNECTION_ERRORS as exc:
                if self.locks.alive():
                    # Our locks hold, so nobody else may take these users: keep their
                    # sessions and calls, and try the database again.
                    _logger.warning(
                        "CTI service %s: database unavailable (%s); keeping %d SIP "
                        "session(s), retrying",
                        self.db_name,
                        exc,
                        len(self._owned),
                    )
                else:
                    _logger.warning(
                        "CTI service %s: database connection lost (%s): the locks went with it; "
                        "dropping %d SIP session(s)",
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
        for user_id in list(self._watchers):
            self._release_watcher(user_id)
        for user_id in list(self._owned):
            self._release(user_id)
        self._stop_unused_drivers()
        self.locks.close()

    # -- ownership -------------------------------------------------------------------------

    def _drop_all(self):
        """The lock connection is gone: our locks with it. Stop every agent now."""
        for owned in [*self._owned.values(), *self._watchers.values()]:
            owned.agent.logout()
        self._owned.clear()
        self._watchers.clear()
        self._stop_unused_drivers()
        self.locks.close()

    def _reconcile(self):
        """Start agents for wanted users we can lock; stop those no longer wanted."""
        wanted, watched = self._wanted_accounts()
        for user_id in [uid for uid in self._owned if uid not in wanted]:
            self._release(user_id)
        # A watcher gives way before its user's own session is started (same lock).
        for user_id, owned in list(self._watchers.items()):
            if watched.get(user_id, (None, None))[1] != owned.version:
                self._release_watcher(user_id)
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
            if self.locks.try_lock(user_id):
                to_start.append((user_id, account_id, version))
        # Settings are read in chunks, each in one transaction: when hundreds of users log in
        # at once (a restart, a takeover) their agents start sooner than one by one.
        # If reading fails, the users locked but not started are let go for the next round.
        pending = {user_id for user_id, _, _ in to_start}
        try:
            for first in range(0, len(to_start), START_CHUNK):
                chunk = to_start[first : first + START_CHUNK]
                configs, open_calls, pbxs = self._agent_configs(
                    [account_id for _, account_id, _ in chunk]
                )
                for user_id, account_id, version in chunk:
                    pending.discard(user_id)
                    pbx_id = pbxs.get(account_id)
                    agent = self._make_agent(
                        configs.get(account_id),
                        user_id,
                        open_calls.get(user_id, ()),
                        self._drivers.get(pbx_id, (None, None))[1],
                    )
                    if agent is None:
                        self.locks.unlock(user_id)
                        continue
                    self._owned[user_id] = _OwnedUser(account_id, agent, version, pbx_id)
                    agent.login()
        finally:
            for user_id in pending:
                self.locks.unlock(user_id)
            self._stop_unused_drivers()
        self._reconcile_watchers(watched)

    def _reconcile_watchers(self, watched):
        """Watch the lines of the colleagues who are not logged in to the CTI.

        A watcher is an agent on the colleague's own account that only subscribes: its
        events feed the colleague's line state (``cti.line.state``) and nothing else; no
        bus message to the colleague, no call log, no session state, no command. It holds
        the colleague's lock, as a session does, so one node watches each line; it gives
        way when the colleague logs in. Sessions come first within ``max_users``.
        """
        to_start = []
        for user_id, (account_id, version) in watched.items():
            if user_id in self._watchers or user_id in self._owned:
                continue
            if len(self._owned) + len(self._watchers) + len(to_start) >= self.config.max_users:
                break
            if self.locks.try_lock(user_id):
                to_start.append((user_id, account_id, version))
        if not to_start:
            return
        try:
            with self.database.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {})
                accounts = env["cti.account"].browse([a for _, a, _ in to_start])
                configs = {account.id: account._cti_agent_config() for account in accounts}
        except Exception:
            for user_id, _account_id, _version in to_start:
                self.locks.unlock(user_id)
            raise
        for user_id, account_id, version in to_start:
            config = configs.get(account_id)
            if config is None:
                self.locks.unlock(user_id)
                continue
            agent = UserAgent(AgentConfig(**config), self.reactor, None)
            agent.on_event = lambda payload, user_id=user_id, agent=agent: self.push_lane.put(
                user_id, {**payload, WATCH_KEY: True}, agent.state
            )
            self._watchers[user_id] = _OwnedUser(account_id, agent, version)
            agent.login()

    def _release_watcher(self, user_id):
        owned = self._watchers.pop(user_id, None)
        if owned is not None:
            owned.agent.logout()
        self.locks.unlock(user_id)

    def _release(self, user_id):
        owned = self._owned.pop(user_id, None)
        if owned is not None:
            owned.agent.logout()
        self.locks.unlock(user_id)
        self._stop_unused_drivers()

    def _driver(self, pbx_id, kind, settings):
        """The driver of PBX ``pbx_id``: the running one while its settings are the same,
        else a new one (the old one stops once no agent uses it)."""
        known = self._drivers.get(pbx_id)
        if known is not None and known[0] == (kind, settings):
            return known[1]
        if known is not None:
            self._retire_driver(pbx_id)
        driver = make_driver(kind, self.reactor, **settings)
        self.reactor.call_soon(driver.start)
        self._drivers[pbx_id] = ((kind, settings), driver)
        return driver

    def _retire_driver(self, pbx_id):
        _settings, driver = self._drivers.pop(pbx_id)
        self.reactor.call_soon(driver.stop)

    def _stop_unused_drivers(self):
        used = {owned.pbx_id for owned in self._owned.values()}
        for pbx_id in [pbx_id for pbx_id in self._drivers if pbx_id not in used]:
            self._retire_driver(pbx_id)

    def _wanted_accounts(self):
        """({user id: (account id, version)} of the users who should have an agent,
        the same of the users whose line is watched instead: not logged in to the CTI, on a
        PBX that shares its users' line states).

        A user taken out of the CTI groups, or whose user, account or PBX is archived, is
        not wanted any more: the next reconcile (seconds) ends the session.
        The version is a digest of what the agent is made of (``_cti_agent_config``): a
        write that changes none of it (a login again, *log in automatically*, a PBX's
        name) reconnects nobody; one that does reconnects that user.
        """
        with self.database.cursor() as cr:
            cr.execute(
                """
                SELECT a.user_id, a.id, a.session_wanted, p.share_line_states,
                       md5(concat_ws(E'\\x1f', a.username, a.auth_username, a.password,
                                     a.auto_answer_header, up.name, p.ws_url, p.domain,
                                     p.country_id, cp.country_id, p.verify_tls, p.ca_bundle,
                                     p.register_expires, p.driver, p.ami_host, p.ami_port,
                                     p.ami_username,
                                     p.ami_secret, p.ami_context))
                  FROM cti_account a
                  JOIN res_users u ON u.id = a.user_id
                  JOIN res_partner up ON up.id = u.partner_id
                  JOIN cti_pbx p ON p.id = a.pbx_id
                  LEFT JOIN res_company c ON c.id = a.company_id
                  LEFT JOIN res_partner cp ON cp.id = c.partner_id
                 WHERE a.active AND u.active AND p.active
                   AND (a.session_wanted OR p.share_line_states)
                   AND EXISTS (
                           SELECT 1
                             FROM res_groups_users_rel r
                             JOIN ir_model_data d ON d.model = 'res.groups' AND d.res_id = r.gid
                            WHERE r.uid = u.id AND d.module = 'cti_connector'
                              AND d.name = 'group_cti_user')
                """
            )
            rows = cr.fetchall()
        wanted = {
            user_id: (a_id, version) for user_id, a_id, session, _s, version in rows if session
        }
        watched = {
            user_id: (a_id, version)
            for user_id, a_id, session, shared, version in rows
            if shared and not session
        }
        return wanted, watched

    def _agent_configs(self, account_ids):
        """({account id: settings of its agent, or None when it cannot be used},
        {user id: the calls the log has in progress for that user},
        {account id: its PBX's id}); the PBXs' drivers are built or renewed on the way."""
        with self.database.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            accounts = env["cti.account"].browse(account_ids)
            configs = {account.id: account._cti_agent_config() for account in accounts}
            for pbx in accounts.pbx_id:
                kind, settings = pbx._cti_driver_config()
                self._driver(pbx.id, kind, settings)
            pbxs = {account.id: account.pbx_id.id for account in accounts}
            return configs, env["cti.call"]._cti_open_calls(accounts.user_id), pbxs

    def _make_agent(self, config, user_id, open_calls=(), driver=None):
        if config is None:
            return None
        agent = UserAgent(AgentConfig(**config), self.reactor, None, driver=driver)
        agent.on_event = lambda payload: self.push_lane.put(user_id, payload, agent.state)
        # A call still going on when this user's previous agent stopped keeps its id.
        agent.adopt_calls(
            Call(
                id=call["id"],
                cid="",
                direction=Direction(call["direction"]),
                source=call["source"],
                destination=call["destination"],
                status=call["status"],
            )
            for call in open_calls
        )
        return agent
