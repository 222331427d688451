"""The reference CTI vocabulary: activity events, call events and the call object."""

import dataclasses
import enum

from .notices import Notice


class Direction(str, enum.Enum):
    INBOUND = "INBOUND"
    OUTBOUND = "OUTBOUND"


class CallEvent(str, enum.Enum):
    INITIAL = "INITIAL"
    ACCEPTED = "ACCEPTED"
    RINGING = "RINGING"
    CONNECTED = "CONNECTED"
    ON_HOLD = "ON_HOLD"
    HANGUP = "HANGUP"
    CANCEL = "CANCEL"


ACTIVITY_EVENTS = ("LOGGED_IN", "LOGGED_OUT", "READY", "INFO", "ERROR")
# Call events in the order a call goes through them; a call ends with one of FINAL_EVENTS,
# and its line rings (colleagues' view) while its last event is one of RINGING_EVENTS.
CALL_EVENTS = tuple(CallEvent)
FINAL_EVENTS = (CallEvent.HANGUP, CallEvent.CANCEL)
RINGING_EVENTS = (CallEvent.INITIAL, CallEvent.ACCEPTED, CallEvent.RINGING)
# The states of a user's session (the agent's ``state``); in TROUBLE_STATES the session
# says why (the last ERROR) until it is back.
SESSION_STATES = ("logged_out", "connecting", "ready", "reconnecting", "failed")
# Causes of the final event of a click-to-call whose first leg, the user's own phone, never
# answered (``call.cause``): nothing was dialled. Worded for people, like every cause, by the
# Odoo layer (``models/cti_notice.py``); the call log reads them as a call the user gave up.
PHONE_BUSY = "phone busy"
PHONE_DECLINED = "phone declined"
PHONE_NOT_REGISTERED = "phone not registered"
PHONE_NOT_ANSWERED = "phone not answered"
PHONE_UNREACHABLE = "phone unreachable"
OWN_PHONE_CAUSES = (
    PHONE_BUSY,
    PHONE_DECLINED,
    PHONE_NOT_REGISTERED,
    PHONE_NOT_ANSWERED,
    PHONE_UNREACHABLE,
)
TROUBLE_STATES = ("reconnecting", "failed")
# Causes of a call the agent ends because the session does: the connection to the PBX (or
# to its Manager Interface) is gone, or the user logged out.
PBX_CONNECTION_LOST = "connection to the PBX lost"
LOGGED_OUT = "logged out"


def phone_failure_cause(code):
    """The cause of a click-to-call whose INVITE to the user's own phone got the final
    answer ``code`` (one of ``OWN_PHONE_CAUSES``, or ``cancelled``)."""
    if code in (486, 600):
        return PHONE_BUSY
    if code in (603, 403):
        return PHONE_DECLINED
    if code in (404, 480):
        return PHONE_NOT_REGISTERED
    if code == 487:
        return "cancelled"
    return PHONE_UNREACHABLE


def far_failure_cause(code):
    """The cause of a call the agent placed to another party (a click-to-call's far end, a
    transfer target) whose INVITE got the final answer ``code``."""
    if code in (486, 600):
        return "busy"
    if code in (408, 480, 487):
        return "no answer"
    if code in (404, 484, 604):
        return "not found"
    if code in (403, 603):
        return "rejected"
    return f"failed ({code})"


# The keys of the reference's call object, in the reference's order: ``Cti.Connector`` hands
# every one of them to integrations, even when empty; colleagues see these and no more
# (``models/cti_line_state.py``).
REFERENCE_CALL_KEYS = (
    "id",
    "cid",
    "cause",
    "direction",
    "destination",
    "destinationName",
    "source",
    "sourceName",
    "status",
)


@dataclasses.dataclass
class Call:
    """The reference call object; ``id`` is stable from the first event to the last."""

    id: str
    cid: str
    direction: Direction
    source: str = ""
    sourceName: str = ""  # noqa: N815 - reference field name
    destination: str = ""
    destinationName: str = ""  # noqa: N815
    status: str = ""
    cause: str = ""
    # Extra key (the reference allows them), present only on the HANGUP of a transfer.
    transferredTo: str = ""  # noqa: N815
    # Extra key: what the user can do with the call now, from the names in
    # ``drivers.CONTROLS``; set by the agent on every event, empty on the final ones.
    controls: list = dataclasses.field(default_factory=list)

    def as_dict(self):
        data = dataclasses.asdict(self)
        data["direction"] = self.direction.value
        if not data["transferredTo"]:
            del data["transferredTo"]
        return data


def activity(name, what, **params):
    """An activity event: ``what`` is a :class:`notices.Notice`, or a code of
    :mod:`notices` with ``params``; the Odoo layer adds the ``message``."""
    if not isinstance(what, Notice):
        what = Notice(what, params)
    return {"name": name, **what.as_dict()}


def call_event(name, call):
    call.status = name.value if isinstance(name, CallEvent) else name
    return {"name": call.status, "call": call.as_dict()}
