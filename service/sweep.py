"""The sweep: calls the log still has open that ended while nobody watched.

A user's agent that starts (a login, a restart, a move to another node) continues the calls
the log has open (``UserAgent.adopt_calls``). Once it is READY and its first dialog
document has come (SWEEP_DELAY), the open calls it does not see any more ended unseen: the
sweep finishes them in the log, on the user's log lane, behind the events already queued.
"""

import logging
import time

from odoo import fields

_logger = logging.getLogger(__name__)

# After an agent is READY, its first dialog document comes within a second or two.
SWEEP_DELAY = 3.0
UNSEEN_CAUSE = "ended while the CTI service was not running"


class Sweeps:
    """The sweeps due, per user.

    :param log_lanes: the host's ``LogLanes``, where a due sweep is queued
    """

    def __init__(self, log_lanes):
        self.log_lanes = log_lanes
        self._due = {}  # user id -> (monotonic due time, UTC datetime of READY)

    def schedule(self, user_id):
        """``user_id``'s agent is READY (the push lane's thread)."""
        self._due[user_id] = (time.monotonic() + SWEEP_DELAY, fields.Datetime.now())

    def run(self, agents):
        """Queue the sweeps that are due; ``agents``: {user id: its running agent}."""
        now = time.monotonic()
        for user_id, (due, ready_at) in list(self._due.items()):
            if due > now:
                continue
            del self._due[user_id]
            agent = agents.get(user_id)
            if agent is None or not agent.is_connected():
                continue
            self.log_lanes.put(
                user_id,
                f"finish the calls of user {user_id} that ended unseen",
                _finish_unseen,
                user_id,
                agent.active_call_ids(),
                ready_at,
            )


def _finish_unseen(env, user_id, active, ready_at):
    finished = env["cti.call"]._cti_finish_unseen(
        env["res.users"].browse(user_id), active, UNSEEN_CAUSE, ready_at
    )
    if finished:
        _logger.info(
            "CTI service %s: %d call(s) of user %s ended unseen",
            env.cr.dbname,
            len(finished),
            user_id,
        )
