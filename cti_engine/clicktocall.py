"""Click-to-call by third-party call control (RFC 3725, flow I).

The agent INVITEs the user's own address without an offer (the user's phones ring:
INITIAL); the phone that answers sends an offer in its 200 (ACCEPTED); the agent INVITEs the
destination with that offer (RINGING on 18x); the destination's answer goes back to the
phone in the ACK (CONNECTED). The agent keeps both dialogs, so it can hang up either side
itself, at any time, with no help from the phone or the PBX. It never touches media.

Flow I holds the phone's 200 un-ACKed while the destination rings, so the ring timeout stays
below the phone's 32 s 2xx retransmission limit.

Holding the dialogs is also what makes hold and transfer possible without the phone's help:
hold re-offers each side the other's session description marked ``sendonly`` (RFC 3264
§8.4), resume re-offers it ``sendrecv``. Transfer is RFC 3725 flow I again, towards the new
destination: INVITE it without an offer, re-INVITE the far end with the offer it returns,
ACK it with the far end's answer, then hang up the user's phone. The agent stays between the
far end and the new destination (it relays their BYE) but the user's call has ended
(HANGUP, cause ``transferred``).

Since the agent is the only thing joining the two dialogs, a re-INVITE from either side
(the phone's own hold key, a far end refreshing its session) must cross over too: the agent
re-INVITEs the other side with that offer and answers with the other side's answer, so
the phone's hold works as it would on a direct call, and ON_HOLD / CONNECTED follow the
direction attributes. While one offer/answer exchange on the call is under way, another
re-INVITE gets 491 (RFC 3261 §14.2, glare); one the agent receives itself it retries after
2.1-4 s, the delay §14.1 gives the owner of the Call-ID, which the agent is for every leg.

Each side sees one continuous session from the agent, whatever the agent relays into it:
the ``o=`` version of every description sent to a leg is made to grow (RFC 3264 §8), even
when a re-offer starts from an older description or a peer answers with an unchanged one.
"""

import logging
import random

from . import events, notices, sdp, sip
from .events import Call, CallEvent, Direction, activity, call_event
from .leg import Leg
from .notices import notice
from .tracker import stable_call_id

_logger = logging.getLogger(__name__)

MAX_RING_TIMEOUT = 30.0
TALKING = ("connected", "on-hold")
GLARE_RETRIES = 2
# RFC 3261 §14.1: after a 491, the owner of the Call-ID waits 2.1 to 4 seconds.
GLARE_DELAY = (2.1, 4.0)


class ClickToCall:
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
            self._end(CallEvent.CANCEL, _device_failure_cause(response.code))
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
            self._end(CallEvent.CANCEL, _far_failure_cause(response.code))
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

    # -- hold, resume, transfer ----------------------------------------------------------

    def hold(self):
        return self._set_direction("sendonly", "on-hold", CallEvent.ON_HOLD, "hold")

    def resume(self):
        return self._set_direction("sendrecv", "connected", CallEvent.CONNECTED, "resume")

    def _set_direction(self, direction, new_state, event, action):
        """Re-offer the far end the phone's description, then the phone the far end's."""
        if self.state not in TALKING or self.busy:
            return notice(notices.CANNOT_NOW, action=action)
        if (self.state == "on-hold") == (new_state == "on-hold"):
            return notice(
                notices.ALREADY_ON_HOLD if new_state == "on-hold" else notices.NOT_ON_HOLD
            )
        self.busy = True

        def device_done(ok, response):
            self.busy = False
            if ok:
                self.state = new_state
                self._emit(event)
            else:
                self._control_failed(action, response)

        def far_done(ok, response):
            if not ok:
                self.busy = False
                self._control_failed(action, response)
                return
            self._reoffer(self.device, self.far_sdp, direction, device_done)

        self._reoffer(self.far, self.device_offer, direction, far_done)
        return None

    def transfer(self, destination):
        """Move the far end to ``destination`` (a normalised number or extension)."""
        if self.state not in TALKING or self.busy:
            return notice(notices.CANNOT_NOW, action="transfer")
        self.busy = True
        agent = self.agent
        self.target = Leg(
            sip.new_call_id(agent.contact_host),
            agent.aor,
            agent.uri_for(destination),
            agent.uri_for(destination),
            local_name=agent.config.display_name,
        )
        self.transfer_destination = destination
        agent.add_leg(self, self.target)
        self.target_tx = agent.send_invite(self.target, b"", [], self._target_response)
        timeout = min(agent.config.ring_timeout, MAX_RING_TIMEOUT)
        self.target_timer = agent.reactor.call_later(timeout, self._target_timeout)
        return None

    def _target_response(self, response):
        if self.target is None or self.state not in TALKING:
            if 200 <= response.code < 300 and self.target is not None:
                self._ack_and_bye(self.target, response)
            return
        if response.code < 200:
            return
        self._cancel_timer("target_timer")
        if response.code >= 300:
            self.busy = False
            self.target = None
            self.agent.emit(
                activity(
                    "ERROR",
                    notices.TRANSFER_FAILED,
                    destination=self.transfer_destination,
                    cause=_far_failure_cause(response.code),
                )
            )
            return
        target = self.target
        target.establish(response)
        target.confirmed = True
        offer = response.body

        def far_done(ok, far_response):
            if not ok:
                self.agent.send_ack(target, sdp.refusal_answer(offer), "application/sdp")
                self.agent.send_bye(target)
                self.target = None
                self.busy = False
                self._control_failed("transfer", far_response)
                return
            answer = self._stamp(target, far_response.body)
            self.agent.send_ack(target, answer, far_response.headers.get("Content-Type"))
            self.far_sdp = far_response.body
            self.agent.send_bye(self.device)
            self.busy = False
            self.state = "transferred"
            self.call.cause = "transferred"
            self.call.transferredTo = self.transfer_destination
            self._emit(CallEvent.HANGUP)
            self.agent.click_to_call_transferred(self)

        self._reinvite(self.far, self._stamp(self.far, offer), far_done)

    def _target_timeout(self):
        if self.target is not None and self.busy and not self.target.confirmed:
            self.agent.transactions.cancel(self.target_tx, self.agent.via)

    def _reoffer(self, leg, description, direction, done):
        self._reinvite(leg, self._stamp(leg, sdp.with_direction(description, direction, 0)), done)

    def _stamp(self, leg, description):
        """``description`` as the next one ``leg`` gets: its o= version above the last one."""
        if not description:
            return description
        last = sdp.origin_version(self.sent.get(id(leg), b""))
        version = sdp.origin_version(description)
        if last is not None and version is not None and version <= last:
            description = sdp.with_version(description, last + 1)
        self.sent[id(leg)] = description
        return description

    def _reinvite(self, leg, body, done, attempt=0):
        """A re-INVITE with an offer; ``done(ok, response)`` once it is answered (and ACKed)."""

        def on_response(response):
            if response.code < 200:
                return
            if 200 <= response.code < 300:
                self.agent.send_ack(leg)
                done(True, response)
            elif response.code == 491 and attempt < GLARE_RETRIES and self.state != "ended":
                delay = random.uniform(*GLARE_DELAY)  # noqa: S311 - not a secret
                self.agent.reactor.call_later(delay, self._reinvite, leg, body, done, attempt + 1)
            else:
                done(False, response)

        self.agent.send_invite(leg, body, [], on_response)

    # -- re-INVITEs from either side -------------------------------------------------------

    def on_reinvite(self, leg, request):
        """A re-INVITE from the phone, the far end or the transfer destination: relay it."""
        other = self._peer(leg)
        if other is None or not other.confirmed or not leg.confirmed:
            self.agent.respond(request, 481, "Call/Transaction Does Not Exist")
            return
        if self.busy:
            # An offer/answer exchange on this call is already under way (ours, or the
            # other side's re-INVITE being relayed): RFC 3261 §14.2, glare.
            self.agent.respond(request, 491, "Request Pending")
            return
        offer = request.body
        if not offer:
            # No offer: a session refresh. The answer to it would be an offer in our 200;
            # giving back the description this side already has keeps its session as it
            # is, and the answer it puts in the ACK changes nothing the other side needs.
            self.agent.respond(request, 200, "OK", self.sent.get(id(leg), b""))
            return
        self.busy = True
        # The answer may take a while (the other side's own glare retry is 2.1-4 s): a 100
        # stops the PBX from timing the re-INVITE out for lack of any response (RFC 3261
        # §17.2.1 wants one after 200 ms).
        self.agent.respond(request, 100, "Trying")

        def done(ok, response):
            self.busy = False
            if not ok:
                # The other side refused the change (or cannot be reached): so does the
                # agent, and both sessions stay as they were.
                self.agent.respond(request, response.code, response.phrase)
                return
            answer = self._stamp(leg, response.body)
            self.agent.respond(request, 200, "OK", answer)
            self._remember(leg, offer)
            self._remember(other, response.body)
            self._follow_direction(sdp.is_hold(offer) or sdp.is_hold(response.body))

        self._reinvite(other, self._stamp(other, offer), done)

    def _peer(self, leg):
        if self.state in TALKING:
            pairs = {id(self.device): self.far, id(self.far): self.device}
        elif self.state == "transferred":
            pairs = {id(self.far): self.target, id(self.target): self.far}
        else:
            return None
        return pairs.get(id(leg))

    def _remember(self, leg, description):
        """Keep a side's latest description: hold and resume re-offer it to the other."""
        if leg is self.device:
            self.device_offer = description
        elif leg is self.far:
            self.far_sdp = description

    def _follow_direction(self, held):
        if self.state == "connected" and held:
            self.state = "on-hold"
            self._emit(CallEvent.ON_HOLD)
        elif self.state == "on-hold" and not held:
            self.state = "connected"
            self._emit(CallEvent.CONNECTED)

    def _control_failed(self, action, response):
        self.agent.emit(
            activity(
                "ERROR",
                notices.CONTROL_FAILED,
                action=action,
                status=f"{response.code} {response.phrase}",
            )
        )

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


def _device_failure_cause(code):
    if code in (486, 600):
        return events.PHONE_BUSY
    if code in (603, 403):
        return events.PHONE_DECLINED
    if code in (404, 480):
        return events.PHONE_NOT_REGISTERED
    if code == 487:
        return "cancelled"
    return events.PHONE_UNREACHABLE


def _far_failure_cause(code):
    if code in (486, 600):
        return "busy"
    if code in (408, 480, 487):
        return "no answer"
    if code in (404, 484, 604):
        return "not found"
    if code in (403, 603):
        return "rejected"
    return f"failed ({code})"
