"""Turns the user's dialog-info documents into reference call events.

Real PBXs send documents out of version order, list every dialog of the user in each one,
keep terminated dialogs for a while, repeat ``early`` for forked calls and capitalise states
freely; this class is where all of that is absorbed.
"""

import hashlib
import time

from .events import Call, CallEvent, Direction, call_event
from .phone import caller_number

RINGING_STATES = ("trying", "proceeding", "early")
FINISHED_MEMORY = 300.0  # seconds a finished call is remembered, longer than any lingering
# Why a call ends when the PBX, after a new SUBSCRIBE, reports no state at all (e.g. Kamailio
# restarted and lost its dialogs): the call may still be up on the phone, but nobody can
# follow it any more, so saying "hangup" would be a guess.
NOT_REPORTED = "no longer reported by the PBX"


def stable_call_id(aor, sip_call_id):
    """The reference ``id``: the same for a SIP call whichever process or connection sees it."""
    return hashlib.sha256(f"{aor}|{sip_call_id}".encode()).hexdigest()[:24]


class CallTracker:
    def __init__(self, aor, extension, display_name, emit):
        self.aor = aor
        self.extension = extension
        self.display_name = display_name
        self.emit = emit
        self.own_call_ids = set()  # legs the agent itself places: never shown as calls
        self._calls = {}  # dialog key -> Call
        self._connected = set()
        self._finished = {}  # dialog key -> monotonic time of the final event
        self._tags = {}  # dialog key -> (call-id, phone's tag, other tag), see dialog_tags
        self._causes = {}  # dialog key -> why it ends, when the agent itself ended it
        self._last_version = None
        self._first_document = True

    def new_subscription(self):
        """A fresh SUBSCRIBE: versions restart and the next full document resynchronises."""
        self._last_version = None
        self._first_document = True

    def apply_empty(self):
        """The first NOTIFY of a subscription came without a document.

        Kamailio (presence with no published state) sends that: the PBX knows no dialog of
        the user. Calls still tracked from before the new subscription are ended now rather
        than whenever the next document arrives, which may be hours later or never.
        Returns False when this is not the first NOTIFY (then it says nothing).
        """
        if not self._first_document:
            return False
        self._first_document = False
        for key in list(self._calls):
            self._finish(key, NOT_REPORTED)
        return True

    def dialog_tags(self, key):
        """(call-id, the phone's tag, the other party's tag) of a call, or None.

        Kamailio puts the tags only in the ``early`` document, so they are kept from there.
        """
        return self._tags.get(key)

    def ended_by_agent(self, call_id, cause):
        """The agent is ending this call itself: its final event gives ``cause``
        (None: it did not manage to after all).

        The PBX's document only says "terminated" (Kamailio writes no ``event``), which
        would read as an ordinary hangup.
        """
        key, call = self.find(call_id)
        if call is None:
            return
        if cause is None:
            self._causes.pop(key, None)
        else:
            self._causes[key] = cause

    @property
    def active_calls(self):
        return list(self._calls.values())

    def find(self, call_id):
        for key, call in self._calls.items():
            if call.id == call_id:
                return key, call
        return None, None

    def apply(self, info):
        """Apply one parsed dialog-info document; returns False when it is stale."""
        if self._last_version is not None and info.version <= self._last_version:
            return False
        self._last_version = info.version
        self._first_document = False
        self._forget_old()
        seen = set()
        for dialog in info.dialogs:
            if dialog.call_id in self.own_call_ids:
                continue
            seen.add(dialog.key)
            self._apply_dialog(dialog)
        if info.full:
            for key in [k for k in self._calls if k not in seen]:
                self._finish(key, "ended while the connection was down")
        return True

    def _apply_dialog(self, dialog):
        key = dialog.key
        if key in self._finished:
            return
        call = self._calls.get(key)
        if call is None:
            if dialog.state == "terminated":
                # A call this subscription never saw alive: PBXs list terminated dialogs for
                # a while, so after a (re)subscription or a service restart these are
                # calls already reported, or not ours to report. Never a new call.
                self._finished[key] = time.monotonic()
                return
            call = self._new_call(dialog)
            self._calls[key] = call
        if dialog.call_id and dialog.local_tag and dialog.remote_tag:
            self._tags[key] = (dialog.call_id, dialog.local_tag, dialog.remote_tag)
        if dialog.state in RINGING_STATES:
            if not call.status:
                self.emit(call_event(CallEvent.RINGING, call))
        elif dialog.state == "confirmed":
            self._confirmed(key, call, dialog)
        elif dialog.state == "terminated":
            if not call.status:
                self.emit(call_event(CallEvent.RINGING, call))
            self._finish(key, self._cause(key, call, dialog))

    def _confirmed(self, key, call, dialog):
        if not call.status:
            self.emit(call_event(CallEvent.RINGING, call))
        on_hold = "no" in (dialog.local.rendering, dialog.remote.rendering)
        if key not in self._connected:
            self._connected.add(key)
            self.emit(call_event(CallEvent.CONNECTED, call))
        if on_hold and call.status != CallEvent.ON_HOLD.value:
            self.emit(call_event(CallEvent.ON_HOLD, call))
        elif not on_hold and call.status == CallEvent.ON_HOLD.value:
            self.emit(call_event(CallEvent.CONNECTED, call))

    def _new_call(self, dialog):
        remote_number = caller_number(dialog.remote.identity) or caller_number(dialog.remote.target)
        call = Call(
            id=stable_call_id(self.aor, dialog.key),
            cid=dialog.key,
            direction=Direction.INBOUND if dialog.direction == "recipient" else Direction.OUTBOUND,
        )
        if call.direction is Direction.INBOUND:
            call.source, call.sourceName = remote_number, dialog.remote.display
            call.destination, call.destinationName = self.extension, self.display_name
        else:
            call.source, call.sourceName = self.extension, self.display_name
            call.destination, call.destinationName = remote_number, dialog.remote.display
        return call

    def _cause(self, key, call, dialog):
        if key in self._causes:
            return self._causes[key]
        if key in self._connected:
            if dialog.event == "replaced":
                return "transferred"
            if dialog.event == "local-bye":
                return "local hangup"
            if dialog.event == "remote-bye":
                return "remote hangup"
            return "hangup"
        if call.direction is Direction.INBOUND:
            if dialog.event == "rejected" or dialog.code in (486, 600, 603):
                return "rejected"
            if dialog.code == 200:
                return "answered elsewhere"
            return "missed"
        if dialog.code in (486, 600):
            return "busy"
        if dialog.code in (404, 484, 604):
            return "not found"
        if dialog.code in (403, 603) or dialog.event == "rejected":
            return "rejected"
        if dialog.event == "cancelled":
            return "cancelled"
        return "no answer"

    def _finish(self, key, cause):
        call = self._calls.pop(key, None)
        self._tags.pop(key, None)
        self._causes.pop(key, None)
        if call is None:
            return
        connected = key in self._connected
        self._connected.discard(key)
        self._finished[key] = time.monotonic()
        call.cause = cause
        self.emit(call_event(CallEvent.HANGUP if connected else CallEvent.CANCEL, call))

    def _forget_old(self):
        horizon = time.monotonic() - FINISHED_MEMORY
        for key in [k for k, when in self._finished.items() if when < horizon]:
            del self._finished[key]
