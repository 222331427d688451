"""Turns the user's dialog-info documents into reference call events.

PBXs describe a user's calls in two ways, and both are absorbed here without configuration:

* **Per-call dialogs** (Kamailio, FreeSWITCH, most hosted PBXs): every SIP dialog of the user
  is a ``<dialog>`` with its ``call-id``; the Call-ID identifies the call. These PBXs send
  documents out of version order, list every dialog of the user in each one, keep terminated
  dialogs for a while, repeat ``early`` for forked calls and capitalise states freely.
* **Line dialogs** (Asterisk, and so FreePBX, Issabel, VitalPBX): the document is built from
  the extension's device state. There is exactly one ``<dialog>``, its ``id`` is the
  extension, it has no ``call-id`` and never changes: ``terminated`` is idle, ``early`` is
  ringing (with the caller), ``confirmed`` is in use (with nobody named). A call is what
  happens between two idle states; it gets an id of its own when it begins, and carries the
  caller it was announced with until it ends. Several calls can share one busy period (a
  second call ringing during a first): each caller announced while ``early`` is a call.

What line dialogs cannot say, nobody can guess: a call placed on the phone has no number,
and whether a second call that stopped ringing during a first was answered is unknown (it is
reported as missed). A PBX control channel (e.g. Asterisk's Manager Interface) gives both.
"""

import dataclasses
import hashlib
import secrets
import time

from .events import Call, CallEvent, Direction, call_event
from .phone import caller_number

RINGING_STATES = ("trying", "proceeding", "early")
FINISHED_MEMORY = 300.0  # seconds a finished call is remembered, longer than any lingering
# Calls in progress tracked per user, at most.
MAX_CALLS = 100
# Why a call ends when the PBX, after a new SUBSCRIBE, reports no state at all (e.g. Kamailio
# restarted and lost its dialogs): the call may still be up on the phone, but nobody can
# follow it any more, so saying "hangup" would be a guess.
NOT_REPORTED = "no longer reported by the PBX"


def stable_call_id(aor, sip_call_id):
    """The reference ``id``: the same for a SIP call whichever process or connection sees it."""
    return hashlib.sha256(f"{aor}|{sip_call_id}".encode()).hexdigest()[:24]


@dataclasses.dataclass
class _Line:
    """A line dialog (see the module docstring) and the calls of its current busy period."""

    keys: list = dataclasses.field(default_factory=list)  # its calls in progress, oldest first
    shown: str = ""  # key of the call its last ``early`` announced
    own: bool = False  # the busy period is the agent's own click-to-call


class CallTracker:
    """Call events from dialog-info documents; ``emit(payload)`` receives each event.

    :param owns_line: callable telling whether the agent itself has a click-to-call on the
        user's phone right now: a line that goes busy then is that call, not a new one.
    :param own_destinations: callable giving the numbers the agent's own legs are calling
        right now: a line PBX that names one of them as ringing shows the agent's leg.
    """

    def __init__(self, aor, extension, display_name, emit, owns_line=None, own_destinations=None):
        self.aor = aor
        self.extension = extension
        self.display_name = display_name
        self.emit = emit
        self.owns_line = owns_line or (lambda: False)
        self.own_destinations = own_destinations or (lambda: ())
        self.own_call_ids = set()  # legs the agent itself places: never shown as calls
        self._calls = {}  # call key -> Call
        self._connected = set()
        self._finished = {}  # per-call dialog key -> monotonic time of the final event
        self._tags = {}  # dialog key -> (call-id, phone's tag, other tag), see dialog_tags
        self._causes = {}  # dialog key -> why it ends, when the agent itself ended it
        self._remotes = {}  # dialog key -> (identity, target) of the other party, see remote
        # key -> who holds a call that its dialog does not show held: "agent" (the agent,
        # through its PBX driver), "phone" (the phone, as the PBX driver reports it)
        self._held_by = {}
        self._lines = {}  # line dialog id -> _Line
        self._adoptable = []  # calls logged before this agent started, see adopt
        self._last_version = None
        self._first_document = True

    def new_subscription(self):
        """A fresh SUBSCRIBE: versions restart and the next full document resynchronises."""
        self._last_version = None
        self._first_document = True

    def adopt(self, calls):
        """Calls that a previous agent of this user reported and never ended (``Call``s).

        A line dialog gives a call no identity of its own, so a call in progress when the
        service restarts (or moves to another node) would come back as a new call with a
        new id, and be logged twice. The first document decides: a line still busy
        continues the most recent of these calls, with its id and party; the rest are left
        to whoever finishes calls that ended unseen.
        """
        self._adoptable = [call for call in calls if call.id not in self._ids()]

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
        self._adoptable = []
        for key in list(self._calls):
            self._finish(key, NOT_REPORTED)
        self._lines.clear()
        return True

    def dialog_tags(self, key):
        """(call-id, the phone's tag, the other party's tag) of a call, or None.

        Kamailio puts the tags only in the ``early`` document, so they are kept from there.
        """
        return self._tags.get(key)

    def remote(self, key):
        """(identity URI, target URI) of the other party of a per-call dialog, or None.

        The target is the other party's Contact (Kamailio's ``remote/target``): where an
        INVITE with Replaces for its side of the call goes.
        """
        return self._remotes.get(key)

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
            call.transferredTo = ""
        else:
            self._causes[key] = cause

    def set_held(self, call_id, held, by="agent"):
        """The call was put on hold, or resumed, in a way its dialog does not show: by the
        agent through the PBX, or on the phone as the PBX (not its dialog-info) says."""
        key, call = self.find(call_id)
        if call is None or key not in self._connected:
            return
        holders = self._held_by.setdefault(key, set())
        if held:
            holders.add(by)
        else:
            holders.discard(by)
        if holders and call.status != CallEvent.ON_HOLD.value:
            self.emit(call_event(CallEvent.ON_HOLD, call))
        elif not holders and call.status == CallEvent.ON_HOLD.value:
            self.emit(call_event(CallEvent.CONNECTED, call))

    def transferred(self, call_id, destination):
        """The agent transferred the call to ``destination``: it ends with that cause."""
        key, call = self.find(call_id)
        if call is not None:
            call.transferredTo = destination
            self._causes[key] = "transferred"

    @property
    def active_calls(self):
        return list(self._calls.values())

    def find(self, call_id):
        for key, call in self._calls.items():
            if call.id == call_id:
                return key, call
        return None, None

    def _ids(self):
        return {call.id for call in self._calls.values()}

    def apply(self, info):
        """Apply one parsed dialog-info document; returns False when it is stale."""
        if self._last_version is not None and info.version <= self._last_version:
            return False
        self._last_version = info.version
        self._first_document = False
        self._forget_old()
        seen = set()
        for dialog in info.dialogs:
            if not dialog.call_id:
                self._apply_line(dialog)
                continue
            if dialog.call_id in self.own_call_ids:
                continue
            seen.add(dialog.key)
            self._apply_dialog(dialog)
        if info.full:
            # Only per-call dialogs: a line is idle when it says so, never by omission.
            stale = [k for k in self._calls if k not in seen and not self._line_of(k)]
            for key in stale:
                self._finish(key, "ended while the connection was down")
        self._adoptable = []
        return True

    # -- per-call dialogs ------------------------------------------------------------------

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
            call = self._new_call(dialog, stable_call_id(self.aor, key), key)
            if not self._track(key, call):
                return
        if dialog.call_id and dialog.local_tag and dialog.remote_tag:
            self._tags[key] = (dialog.call_id, dialog.local_tag, dialog.remote_tag)
        if dialog.call_id and dialog.remote.target.startswith(("sip:", "sips:")):
            self._remotes[key] = (
                dialog.remote.identity or dialog.remote.target,
                dialog.remote.target,
            )
        if dialog.state in RINGING_STATES:
            self._ringing(call)
        elif dialog.state == "confirmed":
            self._ringing(call)
            self._connected_or_held(key, call, dialog)
        elif dialog.state == "terminated":
            self._ringing(call)
            self._finish(key, self._cause(key, call, dialog))

    # -- line dialogs ----------------------------------------------------------------------

    def _apply_line(self, dialog):
        line = self._lines.setdefault(dialog.id, _Line())
        if dialog.state == "terminated":
            self._line_idle(dialog, line)
        elif dialog.state in RINGING_STATES:
            self._line_ringing(dialog, line)
        elif dialog.state == "confirmed":
            self._line_in_use(dialog, line)

    def _line_of(self, key):
        return next((line for line in self._lines.values() if key in line.keys), None)

    def _line_idle(self, dialog, line):
        for key in list(line.keys):
            call = self._calls[key]
            self._finish(key, self._cause(key, call, dialog))
        self._lines.pop(dialog.id, None)

    def _line_ringing(self, dialog, line):
        remote = caller_number(dialog.remote.identity) or caller_number(dialog.remote.target)
        if remote and (remote == self.extension or remote in self.own_destinations()):
            # One of the agent's own legs: its INVITE to the phone (the PBX names the caller
            # after the account), or its INVITE to the far end ringing there (Asterisk counts
            # that leg as the extension's, as the agent authenticates as it).
            line.own = True
            return
        if not (dialog.remote.identity or dialog.remote.target) and self.owns_line():
            # No other party at all while the agent rings the phone itself: its own INVITE,
            # announced before the PBX knew who calls (Asterisk, for a phone that answers at
            # once). An anonymous caller still has an identity ("anonymous").
            line.own = True
            return
        shown = self._calls.get(line.shown)
        if shown is not None and line.shown not in self._connected:
            if shown.source == remote:
                return  # the same call, announced again
            # Another caller took the announcement over: the PBX shows the oldest ringing
            # call, so the one shown before stopped ringing without being answered.
            self._finish(line.shown, self._cause(line.shown, shown, dialog))
        key = self._line_key(dialog.id)
        call = self._adopted(direction=Direction.INBOUND, number=remote)
        if call is None:
            call = self._new_call(dialog, self._line_call_id(dialog.id), key, inbound=True)
        if not self._track(key, call, line):
            return
        line.shown = key
        self._ringing(call)

    def _line_in_use(self, dialog, line):
        ringing = [k for k in line.keys if k not in self._connected]
        answered = [k for k in line.keys if k in self._connected]
        if not answered and not line.own and ringing:
            # The ringing call was picked up; any other caller announced before it was not.
            answered = [line.shown if line.shown in ringing else ringing[-1]]
            self._connected.add(answered[0])
            self.emit(call_event(CallEvent.CONNECTED, self._calls[answered[0]]))
        for key in ringing:
            if key not in answered:
                # Ringing stopped while the line stayed in use: this PBX does not tell an
                # answer (the first call then waits on hold) from a caller who gave up.
                self._finish(key, self._cause(key, self._calls[key], dialog))
        line.shown = ""
        if not answered and not line.own:
            if self.owns_line():
                line.own = True
                return
            # In use without ringing first: a call placed on the phone itself.
            key = self._line_key(dialog.id)
            call = self._adopted(direction=None, number=None)
            if call is None:
                call = self._new_call(dialog, self._line_call_id(dialog.id), key, inbound=False)
            if not self._track(key, call, line):
                return
            self._ringing(call)
            answered = [key]
        for key in answered:
            self._connected_or_held(key, self._calls[key], dialog)

    def _line_key(self, line_id):
        return f"{line_id}#{secrets.token_hex(6)}"

    def _line_call_id(self, line_id):
        """A new id for a call on a line: unique, as the line itself never changes."""
        return stable_call_id(self.aor, f"{line_id}|{time.time_ns()}|{secrets.token_hex(8)}")

    def _adopted(self, direction, number):
        """The call a previous agent logged that this newly busy line continues, if any."""
        for call in reversed(self._adoptable):
            if direction is not None and call.direction is not direction:
                continue
            if number is not None and call.direction is Direction.INBOUND:
                if call.source != number:
                    continue
            self._adoptable.remove(call)
            return call
        return None

    # -- shared --------------------------------------------------------------------------

    def _track(self, key, call, line=None):
        """Start following ``call``; False when the user has too many calls already."""
        if len(self._calls) >= MAX_CALLS:
            return False  # a PBX reporting more calls than a person has is not believed
        call.cid = key
        self._calls[key] = call
        if call.status in (CallEvent.CONNECTED.value, CallEvent.ON_HOLD.value):
            self._connected.add(key)  # an adopted call, already answered
        if line is not None:
            line.keys.append(key)
        return True

    def _ringing(self, call):
        if not call.status:
            self.emit(call_event(CallEvent.RINGING, call))

    def _connected_or_held(self, key, call, dialog):
        on_hold = bool(self._held_by.get(key)) or "no" in (
            dialog.local.rendering,
            dialog.remote.rendering,
        )
        if key not in self._connected:
            self._connected.add(key)
            self.emit(call_event(CallEvent.CONNECTED, call))
        if on_hold and call.status != CallEvent.ON_HOLD.value:
            self.emit(call_event(CallEvent.ON_HOLD, call))
        elif not on_hold and call.status == CallEvent.ON_HOLD.value:
            self.emit(call_event(CallEvent.CONNECTED, call))

    def _new_call(self, dialog, call_id, key, inbound=None):
        if inbound is None:
            inbound = dialog.direction == "recipient"
        remote_number = caller_number(dialog.remote.identity) or caller_number(dialog.remote.target)
        call = Call(
            id=call_id,
            cid=key,
            direction=Direction.INBOUND if inbound else Direction.OUTBOUND,
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
        self._remotes.pop(key, None)
        self._causes.pop(key, None)
        self._held_by.pop(key, None)
        if call is None:
            return
        connected = key in self._connected
        self._connected.discard(key)
        line = self._line_of(key)
        if line is not None:
            line.keys.remove(key)
        else:
            self._finished[key] = time.monotonic()
        call.cause = cause
        self.emit(call_event(CallEvent.HANGUP if connected else CallEvent.CANCEL, call))

    def _forget_old(self):
        horizon = time.monotonic() - FINISHED_MEMORY
        for key in [k for k, when in self._finished.items() if when < horizon]:
            del self._finished[key]
