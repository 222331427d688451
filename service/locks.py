"""Which process runs a user's agent: a PostgreSQL advisory lock per user.

The lock is session-level, taken with ``pg_try_advisory_lock`` on a connection of the
service's own (Odoo's pool resets connections, which would drop session locks). Whoever
holds a user's lock runs that user's agent (or watcher); every other process leaves the
user alone. If the connection dies, its locks go with it, and every agent they covered must
stop at once, since another process may take those users a moment later.

The same connection LISTENs for what wakes the service: ``cti_command`` (a command row was
written) and ``cti_session`` (a user logged in or out).
"""

import select
import time
import zlib

import psycopg2

# First key of our advisory locks (the second is the user id), so that they cannot clash
# with another module's locks on the same database.
LOCK_NAMESPACE = zlib.crc32(b"cti_connector.agent") & 0x7FFFFFFF
CHANNELS = ("cti_command", "cti_session")


class UserLocks:
    """The lock connection of one service host.

    :param database: the host's ``Database`` (it opens the connection)
    """

    def __init__(self, database):
        self.database = database
        self._cnx = None

    def ensure(self):
        """Open the connection if it is not open (a new one holds no lock yet)."""
        if self._cnx is not None and not self._cnx.closed:
            return
        cnx = self.database.connect()
        with cnx.cursor() as cr:
            for channel in CHANNELS:
                cr.execute(f"LISTEN {channel}")
        self._cnx = cnx

    def alive(self):
        """Whether the connection holding the locks still answers."""
        cnx = self._cnx
        if cnx is None or cnx.closed:
            return False
        try:
            with cnx.cursor() as cr:
                cr.execute("SELECT 1")
            return True
        except psycopg2.Error:
            return False

    def close(self):
        """Close the connection: every lock it held is released."""
        cnx, self._cnx = self._cnx, None
        if cnx is not None:
            try:
                cnx.close()
            except psycopg2.Error:
                pass

    def try_lock(self, user_id):
        with self._cnx.cursor() as cr:
            cr.execute("SELECT pg_try_advisory_lock(%s, %s)", (LOCK_NAMESPACE, user_id))
            return cr.fetchone()[0]

    def unlock(self, user_id):
        if self._cnx is None or self._cnx.closed:
            return
        with self._cnx.cursor() as cr:
            cr.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_NAMESPACE, user_id))

    def wait_for_notifications(self, timeout, stopping):
        """Until a NOTIFY on one of CHANNELS, ``timeout`` seconds, or ``stopping`` is set."""
        cnx = self._cnx
        deadline = time.monotonic() + timeout
        while not stopping.is_set():
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
