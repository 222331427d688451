"""The reference CTI vocabulary: activity events, call events and the call object."""

import dataclasses
import enum


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
FINAL_EVENTS = (CallEvent.HANGUP, CallEvent.CANCEL)


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

    def as_dict(self):
        data = dataclasses.asdict(self)
        data["direction"] = self.direction.value
        if not data["transferredTo"]:
            del data["transferredTo"]
        return data


def activity(name, message=""):
    return {"name": name, "message": message}


def call_event(name, call):
    call.status = name.value if isinstance(name, CallEvent) else name
    return {"name": call.status, "call": call.as_dict()}
