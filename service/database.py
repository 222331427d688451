"""The service's ways to the database: cursors, connections of its own, and how work is
retried.

Every lane of the service host writes through :class:`Database`: a transaction is replayed
when PostgreSQL refuses it for a concurrent one (:meth:`Database.in_transaction`), waits
while the database cannot be reached (:meth:`Database.while_unavailable`), and a batch that
fails is replayed item by item (:meth:`Database.all_or_each`), so that one bad item never
takes the others down with it.
"""

import logging
import os
import time

import psycopg2
import psycopg2.errors
import psycopg2.extensions
from odoo import SUPERUSER_ID, api, sql_db
from odoo.modules.registry import Registry

_logger = logging.getLogger(__name__)

# Another process recording the same call at the same moment makes PostgreSQL refuse one
# of the two transactions; the loser is replayed, as Odoo replays HTTP requests.
RETRYABLE_ERRORS = (psycopg2.errors.SerializationFailure, psycopg2.errors.DeadlockDetected)
# The database cannot be reached (restarting, failing over, network): nothing wrong with the
# work itself, which waits in memory and is tried again.
CONNECTION_ERRORS = (psycopg2.OperationalError, psycopg2.InterfaceError)
MAX_ATTEMPTS = 5
# The longest wait between two attempts while the database cannot be reached.
MAX_BACKOFF = 10.0


class Database:
    """The database ``db_name`` as the service host's lanes use it.

    :param config: the ``ServiceConfig`` (``db_host``/``db_port`` of its own connections)
    :param stopping: the host's ``threading.Event``, set when it stops: waits end then
    """

    def __init__(self, db_name, config, stopping):
        self.db_name = db_name
        self.config = config
        self.stopping = stopping

    def cursor(self):
        return Registry(self.db_name).cursor()

    def connect(self, db_name=None):
        """A connection of our own (autocommit) to ``db_name`` (default: ours), where Odoo
        would connect."""
        _name, info = sql_db.connection_info_for(db_name or self.db_name)
        if self.config.db_host:
            info["host"] = self.config.db_host
        if self.config.db_port:
            info["port"] = self.config.db_port
        # The pid tells an operator (and the multi-node test) which process owns whom.
        info["application_name"] = f"odoo-cti-service/{os.getpid()}"
        cnx = psycopg2.connect(**info)
        cnx.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
        return cnx

    def in_transaction(self, work, what):
        """Run ``work(env)`` in a transaction of its own, replayed when PostgreSQL refuses
        it for a concurrent one; logged if it fails. The database being unreachable is
        raised (``CONNECTION_ERRORS``): the caller keeps the work for later.

        :return: what ``work`` returned once committed, None if it failed
        """
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                with self.cursor() as cr:
                    # A name keeps the environment alive through the commit: Odoo flushes
                    # only the environments a transaction still holds (weakly), so a
                    # collected one would lose the writes the ORM had not yet sent.
                    env = api.Environment(cr, SUPERUSER_ID, {})
                    return work(env)
            except RETRYABLE_ERRORS as exc:
                if attempt < MAX_ATTEMPTS:
                    time.sleep(0.05 * attempt)
                    continue
                error = exc
            except CONNECTION_ERRORS:
                raise
            except Exception as exc:  # noqa: BLE001 - logged; the next work still goes on
                error = exc
            _logger.error("CTI service %s: could not %s", self.db_name, what, exc_info=error)
            return None

    def while_unavailable(self, attempt, what):
        """Run ``attempt()`` again, with backoff, as long as the database cannot be reached
        (the caller waits; its queue holds what comes meanwhile); None once stopping."""
        backoff = 0.5
        while True:
            try:
                return attempt()
            except CONNECTION_ERRORS as exc:
                if self.stopping.is_set():
                    _logger.warning("CTI service %s: could not %s: %s", self.db_name, what, exc)
                    return None
                _logger.warning(
                    "CTI service %s: database unavailable (%s); will %s in %.1f s",
                    self.db_name,
                    exc,
                    what,
                    backoff,
                )
            self.stopping.wait(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)

    def all_or_each(self, items, together, alone, what, unreachable_raises=True):
        """``together(env, items)`` in one transaction; if anything in it fails, nothing of
        it is kept and ``alone(item)`` runs for each item instead, each on its own.

        :param unreachable_raises: the database being unreachable is raised from the
            batch (the caller keeps the batch), else each item is tried alone as well
        :return: ``[together's result]``, or the list of ``alone``'s results
        """
        if len(items) > 1:
            try:
                with self.cursor() as cr:
                    env = api.Environment(cr, SUPERUSER_ID, {})  # alive through the commit
                    return [together(env, items)]
            except CONNECTION_ERRORS:
                if unreachable_raises:
                    raise
            except Exception:  # noqa: BLE001 - replayed one by one below, which logs
                _logger.debug("CTI service %s: replaying %s one by one", self.db_name, what)
                return [alone(item) for item in items]
            _logger.debug("CTI service %s: replaying %s one by one", self.db_name, what)
        return [alone(item) for item in items]
