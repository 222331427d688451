"""Call control: what the user can do with a call from Odoo, and doing it.

A mixin of :class:`~.agent.UserAgent`, in the reactor thread like the rest of the agent: a
click-to-call is controlled by the agent itself (``clicktocall``); a call the agent only
observes by the PBX's driver (``drivers``), by the phone's remote-control keys
(``phone_control``), or by taking its dialog over with INVITE/Replaces towards the phone
(``takeover``) or the other party (``remote``). A control that cannot work for a call is
not offered (``controls`` of its events); asked anyway, the user gets an INFO saying why.
A new control is a name in ``drivers.CONTROLS``, a public method of the agent that calls
the reactor, and its handling here.
"""

from . import drivers, notices
from .clicktocall import ClickToCall
from .events import FINAL_EVENTS, CallEvent, Direction, activity
from .phone import InvalidDestination, normalize_destination
from .remote import RemoteTakeover, remote_host
from .takeover import Takeover
from .tracker import FINISHED_MEMORY

# The phone's answer to INVITE/Replaces that says it does not support it (RFC 3261 §8.2.2.3).
REPLACES_UNSUPPORTED = 420
# Answers of the other party to INVITE/Replaces that say nothing about what it supports.
TRANSIENT_REFUSALS = (481, 487, 491, 503)


class CallControl:
    """The call control of a :class:`~.agent.UserAgent` (see the module docstring)."""

    def _controls(self, call):
        """What the user can do with ``call`` (an event's call dict) now: the controls
        that work for it on this PBX and phone, in the order of ``drivers.CONTROLS``."""
        if call["status"] in FINAL_EVENTS:
            return []
        c2c = self._click_to_calls.get(call["id"])
        if c2c is not None:
            available = c2c.controls()
        else:
            key, tracked = self._observed(call["id"], None)
            if tracked is None:
                return []
            available = set(self.driver.controls(self, tracked))
            available.update(self.phone_control.controls(tracked, self.tracker.active_calls))
            if key is not None and self._can_take_over(key, tracked):
                available.add(drivers.TERMINATE)
            if key is not None and self._can_take_over_remote(key, tracked):
                available.update((drivers.TERMINATE, drivers.TRANSFER))
        return [name for name in drivers.CONTROLS if name in available]

    def _can_take_over(self, key, call):
        """Whether INVITE/Replaces (see ``takeover``) may end this observed call."""
        return (
            call.status in (CallEvent.CONNECTED.value, CallEvent.ON_HOLD.value)
            and self.tracker.dialog_tags(key) is not None
            and not self._phone_refuses_replaces
        )

    def _can_take_over_remote(self, key, call):
        """Whether INVITE/Replaces towards the other party (see ``remote``) may end or
        transfer this observed inbound call."""
        if call.direction is not Direction.INBOUND or call.id in self._remote_takeovers:
            return False
        if call.status not in (CallEvent.CONNECTED.value, CallEvent.ON_HOLD.value):
            return False
        remote = self.tracker.remote(key)
        return (
            self.tracker.dialog_tags(key) is not None
            and remote is not None
            and remote_host(remote[1]) not in self._remote_refusals
        )

    def _normalized(self, destination):
        """The destination as E.164 or an extension; None (and an ERROR event) if invalid."""
        try:
            return normalize_destination(
                destination, self.config.default_country, self.config.max_extension_length
            )
        except InvalidDestination as exc:
            self.emit(activity("ERROR", exc.notice))
            return None

    def _call(self, destination):
        number = self._normalized(destination)
        if number is None:
            return
        if self.state != "ready":
            self.emit(activity("ERROR", notices.NOT_CONNECTED))
            return
        c2c = ClickToCall(self, number)
        self._click_to_calls[c2c.call.id] = c2c
        for leg in (c2c.device, c2c.far):
            self.add_leg(c2c, leg)
        c2c.start()

    def _answer(self, call_id):
        if call_id in self._click_to_calls:
            self.emit(activity("INFO", notices.ANSWERED_ALREADY))
            return
        _key, call = self._observed(call_id, "answer")
        if call is None:
            return
        if drivers.ANSWER in self.driver.controls(self, call):
            self._refused(self.driver.act(self, call, drivers.ANSWER))
            return
        if drivers.ANSWER in self.phone_control.controls(call, self.tracker.active_calls):
            self._refused(self.phone_control.act(call, drivers.ANSWER))
            return
        self.emit(activity("INFO", notices.CANNOT_ANSWER))

    def _observed(self, call_id, action):
        """(key, Call) of an observed call of the user; else (None, None) and the user is
        told: a call that ended meanwhile is an INFO, an id the agent never saw (another
        user's, a made-up one) an ERROR. Neither changes anything."""
        key, call = self.tracker.find(call_id)
        if call is None:
            call = self.driver.own_call(self, call_id)
        if call is None and action is not None:
            if call_id in self._ended:
                self.emit(activity("INFO", notices.CALL_ENDED, action=action))
            else:
                self.emit(activity("ERROR", notices.NO_SUCH_CALL, call=call_id, action=action))
        return key, call

    def _refused(self, refusal):
        if refusal:
            self.emit(activity("INFO", refusal))

    def _terminate(self, call_id):
        c2c = self._click_to_calls.get(call_id)
        if c2c is not None:
            c2c.terminate()
            return
        key, call = self._observed(call_id, "hang up")
        if call is None:
            return
        if drivers.TERMINATE in self.driver.controls(self, call):
            self._refused(self.driver.act(self, call, drivers.TERMINATE))
            return
        if call.direction is Direction.INBOUND and call.status == CallEvent.RINGING.value:
            # RFC 3891 §3: a phone answers 481 to a Replaces naming an early dialog it did not
            # initiate, and an inbound call ringing on it is exactly that; trying would only
            # ring a second call on some phones. Declining is up to the phone.
            self.emit(activity("INFO", notices.RINGING_CANNOT_END))
            return
        if key is not None and self._can_take_over(key, call):
            tags = self.tracker.dialog_tags(key)
            takeover = Takeover(self, call, tags, self._takeover_done)
            self.tracker.own_call_ids.add(takeover.leg.call_id)
            # Before the INVITE: a phone may hang the old call up before it answers ours.
            self.tracker.ended_by_agent(call.id, "terminated")
            takeover.start()
            return
        if key is not None and self._can_take_over_remote(key, call):
            self._take_over_remote(key, call, None)
            return
        self.emit(activity("INFO", notices.CANNOT_END))

    def _takeover_done(self, takeover):
        if not takeover.replaced:
            self.tracker.ended_by_agent(takeover.call.id, None)
            if takeover.refusal == REPLACES_UNSUPPORTED:
                # Hang up is not offered again for this phone's calls (until a new login).
                self._phone_refuses_replaces = True
            why = takeover.refusal_text
            key, call = self.tracker.find(takeover.call.id)
            if call is not None and self._can_take_over_remote(key, call):
                # The other way round: the other party's side may hand it over.
                self._take_over_remote(key, call, None, phone_refusal=why)
            else:
                self.emit(activity("INFO", notices.CANNOT_END_REFUSED, status=why))
        # The PBX may still list the takeover dialog for a while: keep it hidden as long.
        self.reactor.call_later(
            FINISHED_MEMORY, self.tracker.own_call_ids.discard, takeover.leg.call_id
        )

    def _take_over_remote(self, key, call, destination, phone_refusal=""):
        takeover = RemoteTakeover(
            self,
            call,
            self.tracker.dialog_tags(key),
            self.tracker.remote(key),
            destination,
            self._remote_done,
        )
        takeover.phone_refusal = phone_refusal
        self._remote_takeovers[call.id] = takeover
        takeover.start()

    def _remote_done(self, takeover):
        self._remote_takeovers.pop(takeover.call.id, None)
        if not takeover.replaced and takeover.refusal not in (None, *TRANSIENT_REFUSALS):
            # Not offered again for calls from that phone or trunk (until a new login).
            self._remote_refusals.add(takeover.remote_host)
        if not takeover.replaced or takeover.destination is None:
            self.reactor.call_later(FINISHED_MEMORY, self._forget_legs, takeover)

    def _control(self, call_id, action):
        c2c = self._click_to_calls.get(call_id)
        if c2c is not None:
            self._refused(c2c.hold() if action == "hold" else c2c.resume())
            return
        _key, call = self._observed(call_id, action)
        if call is None:
            return
        if drivers.HOLD in self.driver.controls(self, call):
            self._refused(self.driver.act(self, call, action))
            return
        if drivers.HOLD in self.phone_control.controls(call, self.tracker.active_calls):
            self._refused(self.phone_control.act(call, action))
            return
        self._unsupported_control(action)

    def _transfer(self, call_id, destination, how=drivers.TRANSFER):
        # First: a destination that is not a number or an extension goes nowhere.
        number = self._normalized(destination)
        if number is None:
            return
        c2c = self._click_to_calls.get(call_id)
        if c2c is not None and how == drivers.TRANSFER:
            self._refused(c2c.transfer(number))
            return
        if c2c is not None:
            self._unsupported_control("ask-first transfer")
            return
        key, call = self._observed(call_id, "transfer")
        if call is None:
            return
        if how in self.driver.controls(self, call):
            self._refused(self.driver.act(self, call, how, number))
            return
        if how == drivers.TRANSFER and key is not None and self._can_take_over_remote(key, call):
            self._take_over_remote(key, call, number)
            return
        self._unsupported_control("transfer" if how == drivers.TRANSFER else "ask-first transfer")

    def _driver_control(self, call_id, action):
        _key, call = self._observed(call_id, action)
        if call is None:
            return
        if action in self.driver.controls(self, call):
            self._refused(self.driver.act(self, call, action))
            return
        self._unsupported_control(action)

    def _unsupported_control(self, action):
        # A call the agent only observes: its signalling does not pass through the agent,
        # and this PBX's driver cannot act on it.
        self.emit(activity("INFO", notices.NOT_AVAILABLE, action=action))
