"""Click-to-call by third-party call control (RFC 3725, flow I).

The agent INVITEs the user's own address without an offer (the user's phones ring:
INITIAL); the phone that answers sends an offer in its 200 (ACCEPTED); the agent INVITEs the
destination with that offer (RINGING on 18x); the destination's answer goes back to the
phone in the ACK (CONNECTED). The agent keeps both dialogs, so it can hang up either side
itself, at any time, with no help from the phone or the PBX. It never touches media.

Flow I holds the phone's 200 un-ACKed while the destination rings, so the ring timeout stays
below the phone's 32 s 2xx retransmission limit.

Hold, resume, transfer and the re-INVITEs either side sends are in ``midcall``.
"""

from . import events, sdp, sip
from .events import Call, CallEvent, Direction, call_event, far_failure_cause, phone_failure_cause
from .leg import MAX_RING_TIMEOUT, Leg
from .midcall import TALKING, MidCall
from .tracker import stable_call_id


class ClickToCall(MidCall):
    """A call the agent places between the user's phone and ``destination`` (see the
    module docstring)."""

    def __init__(self, agent, destination):
        self.agent = agent
        config = agent.config
        host = agent.contact_host
        self.device = Leg(
            sip.new_call_id(host),
            agent.aor,
            agent.aor,
            agent.aor,
            local_name=f"Call {destination}",
        )
        self.far = Leg(
            sip.new_call_id(host),
            agent.aor,
            agent.uri_for(destination),
            agent.uri_for(destination),
            local_name=config.display_name,
        )
        self.call = Call(
            id=stable_call_id(agent.aor, self.device.call_id),
            cid=self.device.call_id,
            direction=Direction.OUTBOUND,
            source=config.username,
            sourceName=config.display_name,
            destination=destination,
        )
        self.device_tx = None
        self.far_tx = None
        self.device_offer = b""
        self.device_200 = None
        self.state = "new"  # device-ringing, far-ringing, connected, ended
        self.ring_timer = None
        self.device_timer = None
        self.lost_state = None  # the state when the connection dropped, see connection_lost
        self.far_sdp = b""  # the far end's session description (its answer)
        self.sent = {}  # id(leg) -> the last session description sent to that leg
        self.busy = False  # a hold, resume or transfer is under way
        self.target = None  # the transfer destination's leg
        self.target_tx = None
        self.target_timer = None

    @property
    def call_ids(self):
        ids = [self.device.call_id, self.far.call_id]
        if self.target is not None:
            ids.append(self.target.call_id)
        return tuple(ids)

    def controls(self):
        """The controls that work for this call now (see ``drivers.CONTROLS``)."""
        if self.state in ("device-ringing", "far-ringing"):
            return {"terminate"}
        if self.state in TALKING:
            return {"terminate"} if self.busy else {"terminate", "hold", "transfer"}
        return set()

    def holds_device(self):
        """Whether this call has the user's phone ringing or in the call."""
        return self.state in ("device-ringing", "far-ringing", *TALKING)

    # -- placing the call ---------------------------------------------------------------

    def start(self):
        headers = list(self.agent.auto_answer_headers())
        self.state = "device-ringing"
        self.device_tx = self.agent.send_invite(self.device, b"", headers, self._device_response)
        self.device_timer = self.agent.reactor.call_later(
            self.agent.config.device_timeout, self._device_timeout
        )

    def _device_response(self, response):
        if self.state != "device-ringing":
            if 200 <= response.code < 300:
                self._ack_and_bye(self.device, response)
            return
        if response.code < 200:
            if response.code >= 180 and not self.call.status:
                self._emit(CallEvent.INITIAL)
            return
        if response.code >= 300:
            self._end(CallEvent.CANCEL, phone_failure_cause(response.code))
            return
        self.device.establish(response)
        self.device.confirmed = True
        self.device_200 = response
        self.device_offer = response.body
        if not self.call.status:
            self._emit(CallEvent.INITIAL)
        self._emit(CallEvent.ACCEPTED)
        self._cancel_timer("device_timer")
        self.state = "far-ringing"
        offer = self._stamp(self.far, self.device_offer)
        self.far_tx = self.agent.send_invite(self.far, offer, [], self._far_response)
        timeout = min(self.agent.config.ring_timeout, MAX_RING_TIMEOUT)
        self.ring_timer = self.agent.reactor.call_later(timeout, self._ring_timeout)

    def _far_response(self, response):
        if self.state != "far-ringing":
            if 200 <= response.code < 300:
                self._ack_and_bye(self.far, response)
            return
        if response.code < 200:
            if response.code in (180, 183) and self.call.status != CallEvent.RINGING.value:
                self._emit(CallEvent.RINGING)
            return
        self._cancel_timer("ring_timer")
        if response.code >= 300:
            self._hang_up_device()
            self._end(CallEvent.CANCEL, far_failure_cause(response.code))
            return
        self.far.establish(response)
        self.far.confirmed = True
        self.far_sdp = response.body
        self.agent.send_ack(self.far)
        answer = self._stamp(self.device, response.body)
        self.agent.send_ack(self.device, answer, response.headers.get("Content-Type"))
        if self.call.status != CallEvent.RINGING.value:
            self._emit(CallEvent.RINGING)
        self.state = "connected"
        self._emit(CallEvent.CONNECTED)

    # -- ending it ---------------------------------------------------------------------

    def terminate(self, cause="terminated"):
        if self.state == "device-ringing":
            self.agent.transactions.cancel(self.device_tx, self.agent.via)
            self._end(CallEvent.CANCEL, cause)
        elif self.state == "far-ringing":
            self.agent.transactions.cancel(self.far_tx, self.agent.via)
            self._hang_up_device()
            self._end(CallEvent.CANCEL, cause)
        elif self.state in TALKING:
            self.agent.send_bye(self.device)
            self.agent.send_bye(self.far)
            self._drop_target()
            self._end(CallEvent.HANGUP, cause)
        elif self.state == "transferred":
            self._end_bridge()

    def connection_lost(self, cause):
        """The WebSocket to the PBX dropped: this call has lost its signalling path.

        The peers' in-dialog requests (BYE, re-INVITE) are routed to the connection that is
        gone, and the two dialogs are only joined through this agent, so the call can no
        longer be followed or controlled, and one side hanging up would leave the other one
        up. It ends now (HANGUP if connected, CANCEL before) and the legs that were up are
        hung up by :meth:`tear_down` once a new connection is open, so that the event is
        true. Returns True when there is something to tear down.
        """
        lost_state = self.state
        if lost_state in TALKING:
            self._end(CallEvent.HANGUP, cause)
        elif lost_state in ("device-ringing", "far-ringing"):
            # A pending INVITE cannot be CANCELled over another connection (the PBX may not
            # even remember its transaction); the phone or the far end times out by itself.
            self._end(CallEvent.CANCEL, cause)
        elif lost_state == "transferred":
            self.state = "ended"  # the user's call already ended; only the bridge goes
            self.agent.click_to_call_ended(self)
        self.lost_state = lost_state
        return lost_state in (*TALKING, "far-ringing", "transferred")

    def tear_down(self):
        """Hang up, over the new connection, the legs that were up when the old one dropped.

        In-dialog requests follow the route set, so any instance of the PBX can relay them.
        """
        if self.lost_state in (*TALKING, "transferred"):
            for leg in (self.device, self.far, self.target):
                if leg is not None and leg.confirmed:
                    self.agent.send_bye(leg)
        elif self.lost_state == "far-ringing":
            self._hang_up_device()

    def on_bye(self, leg):
        """The phone or the far end hung up."""
        if self.state == "transferred":
            # The far end and the transfer destination talk through our two dialogs.
            self._end_bridge()
            return
        if leg is self.target:
            return  # the transfer destination hung up before the transfer completed
        other = self.far if leg is self.device else self.device
        if self.state in TALKING:
            self.agent.send_bye(other)
            self._drop_target()
            cause = "local hangup" if leg is self.device else "remote hangup"
            self._end(CallEvent.HANGUP, cause)
        elif self.state == "far-ringing" and leg is self.device:
            self.agent.transactions.cancel(self.far_tx, self.agent.via)
            self._end(CallEvent.CANCEL, "cancelled")

    def _drop_target(self):
        target = self.target
        if target is None or self.state == "transferred":
            return
        self._cancel_timer("target_timer")
        if target.confirmed:
            self.agent.send_bye(target)
        elif self.target_tx is not None:
            self.agent.transactions.cancel(self.target_tx, self.agent.via)

    def _end_bridge(self):
        for leg in (self.far, self.target):
            if leg is not None and leg.confirmed:
                self.agent.send_bye(leg)
        self.state = "ended"
        self.agent.click_to_call_ended(self)

    def _hang_up_device(self):
        if self.device_200 is not None and self.device.confirmed:
            self.agent.send_ack(
                self.device, sdp.refusal_answer(self.device_offer), "application/sdp"
            )
            self.agent.send_bye(self.device)

    def _ack_and_bye(self, leg, response):
        leg.establish(response)
        self.agent.send_ack(leg)
        self.agent.send_bye(leg)

    def _device_timeout(self):
        if self.state == "device-ringing":
            self.agent.transactions.cancel(self.device_tx, self.agent.via)
            self._end(CallEvent.CANCEL, events.PHONE_NOT_ANSWERED)

    def _ring_timeout(self):
        if self.state == "far-ringing":
            self.agent.transactions.cancel(self.far_tx, self.agent.via)
            self._hang_up_device()
            self._end(CallEvent.CANCEL, "no answer")

    def _cancel_timer(self, name):
        timer = getattr(self, name)
        if timer:
            timer.cancel()
            setattr(self, name, None)

    def _emit(self, name):
        self.agent.emit(call_event(name, self.call))

    def _end(self, name, cause):
        if self.state == "ended":
            return
        self.state = "ended"
        self._cancel_timer("ring_timer")
        self._cancel_timer("device_timer")
        self.call.cause = cause
        self._emit(name)
        self.agent.click_to_call_ended(self)


class Bridge(ClickToCall):
    """Two dialogs the agent joins after a transfer it made without a click-to-call: the
    other party of an observed call, taken over (see ``remote``), and the transfer target.

    It is a click-to-call in its ``transferred`` state: BYE and re-INVITEs cross over
    between ``far`` (the other party) and ``target``; the user's call has already ended.
    """

    def __init__(self, agent, call, far, target, caller_sdp, target_sdp):  # noqa: PLR0913
        self.agent = agent
        self.call = call
        self.device = None
        self.far = far
        self.target = target
        self.state = "transferred"
        self.busy = False
        self.far_sdp = caller_sdp
        self.device_offer = b""
        self.sent = {id(far): target_sdp, id(target): caller_sdp}
        self.lost_state = None
        self.device_tx = self.far_tx = self.target_tx = None
        self.ring_timer = self.device_timer = self.target_timer = None

    @property
    def call_ids(self):
        return (self.far.call_id, self.target.call_id)
