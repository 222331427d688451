"""The commands: ``cti.command`` rows, claimed by the service host that runs their user.

Web workers write a row (the routes, after validating what the browser sent) and
``NOTIFY cti_command``; the host holding the user's lock claims it (:func:`claim`) and has
the user's agent carry it out. A row is data in a table: whatever it holds (a list for a
payload, a number for a destination, a string for a call id), it is read through
:func:`parse_command`, which either returns the agent method to call or says why the row
cannot be carried out. Nothing else of a payload is read.
"""

import logging
import re

from ..cti_engine import notices
from ..cti_engine.events import activity

_logger = logging.getLogger(__name__)

CALL_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
ORIGIN_MODELS = ("res.partner", "crm.lead")
# What a person may type as a destination, before the engine normalises it.
MAX_DESTINATION = 64
CALL_CONTROLS = ("answer", "terminate", "hold", "resume", "complete")
EXPIRED_RESULT = "Expired before the CTI service claimed it."
# Command rows claimed in one pass, at most: a flood of rows (the routes are rate-limited,
# but a table is a table) is worked through over several passes, each a short transaction.
MAX_CLAIM = 200


class InvalidCommand(ValueError):
    """A command row that cannot be carried out; the message says why, for its result."""


def parse_command(name, payload):
    """The work a command row asks for.

    :param str name: the row's ``name``
    :param payload: the row's ``payload``, anything JSON can hold
    :return: ``(run, origin)``: ``run(agent)`` carries the command out; ``origin`` is the
        ``{"model", "id"}`` a click-to-call was started from, or None
    :raises InvalidCommand: when the name or the payload is not what the command takes
    """
    if not isinstance(payload, dict):
        raise InvalidCommand("the payload is not an object")
    if name == "call":
        destination = _destination(payload)
        origin = _origin(payload.get("origin"))
        return (lambda agent: agent.call(destination)), origin
    if name in CALL_CONTROLS:
        call_id = _call_id(payload)
        return (lambda agent: getattr(agent, name)(call_id)), None
    if name == "transfer":
        call_id, destination = _call_id(payload), _destination(payload)
        if payload.get("askFirst") is True:
            return (lambda agent: agent.consult(call_id, destination)), None
        return (lambda agent: agent.transfer(call_id, destination)), None
    raise InvalidCommand(f"{name!r} is not a command the service carries out")


def _destination(payload):
    destination = payload.get("destination")
    if not isinstance(destination, str) or not 0 < len(destination) <= MAX_DESTINATION:
        raise InvalidCommand("the destination is not a number or an extension")
    return destination


def _call_id(payload):
    call_id = payload.get("callId")
    if not isinstance(call_id, str) or not CALL_ID.match(call_id):
        raise InvalidCommand("the call id is not valid")
    return call_id


def _origin(origin):
    if origin is None:
        return None
    if (
        not isinstance(origin, dict)
        or origin.get("model") not in ORIGIN_MODELS
        or type(origin.get("id")) is not int
        or origin["id"] <= 0
    ):
        raise InvalidCommand("the record the call comes from is not valid")
    return {"model": origin["model"], "id": origin["id"]}


def claim(database, agents, push_lane):
    """Claim the pending commands of the users of ``agents`` ({user id: agent}) and carry
    them out; expire anyone's that waited too long.

    Each row is judged on its own (:func:`parse_command`): one that cannot be carried out
    is marked failed with the reason, and the others of the pass, of this user or another,
    go on. A user whose commands expired gets one ERROR per pass, however many rows expired.

    :param push_lane: where the ERRORs go, and where a click-to-call's record is kept
    :return: whether the pass claimed as many rows as it may (more may be waiting)
    """
    to_run = []
    expired_users = set()
    with database.cursor() as cr:
        # clock_timestamp(), not now(): now() is when the transaction began, which says
        # nothing about how long a command has waited.
        cr.execute(
            """
            WITH clock AS (SELECT clock_timestamp() AT TIME ZONE 'UTC' AS utc)
            SELECT id, user_id, name, payload, expire_date < clock.utc AS expired
              FROM cti_command, clock
             WHERE state = 'pending' AND (user_id = ANY(%s) OR expire_date < clock.utc)
             ORDER BY id
             LIMIT %s
               FOR UPDATE OF cti_command SKIP LOCKED
            """,
            (list(agents), MAX_CLAIM),
        )
        rows = cr.fetchall()
        outcomes = []  # (state, result, id)
        for command_id, user_id, name, payload, expired in rows:
            if expired or user_id not in agents:
                expired_users.add(user_id)
                outcomes.append(("expired", EXPIRED_RESULT, command_id))
                continue
            try:
                run, origin = parse_command(name, payload)
            except InvalidCommand as exc:
                _logger.info(
                    "CTI service %s: command %s of user %s refused: %s",
                    database.db_name,
                    command_id,
                    user_id,
                    exc,
                )
                outcomes.append(("failed", str(exc), command_id))
                push_lane.put(
                    user_id, activity("ERROR", notices.COMMAND_REFUSED, reason=str(exc)), None
                )
                continue
            outcomes.append(("done", None, command_id))
            to_run.append((user_id, run))
            if origin:
                push_lane.origins[(user_id, payload["destination"])] = origin
        if outcomes:
            cr.execute(
                """
                UPDATE cti_command c
                   SET state = o.state, result = o.result,
                       write_date = clock_timestamp() AT TIME ZONE 'UTC'
                  FROM unnest(%s::varchar[], %s::text[], %s::int[]) AS o(state, result, id)
                 WHERE c.id = o.id
                """,
                (
                    [state for state, _r, _i in outcomes],
                    [result for _s, result, _i in outcomes],
                    [command_id for _s, _r, command_id in outcomes],
                ),
            )
    for user_id in expired_users:
        push_lane.put(user_id, activity("ERROR", notices.COMMAND_EXPIRED), None)
    for user_id, run in to_run:
        agent = agents.get(user_id)
        if agent is not None:
            run(agent)
    return len(rows) >= MAX_CLAIM
