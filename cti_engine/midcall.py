"""Changing a click-to-call once it is connected: hold, resume, transfer, and the
re-INVITEs either side sends.

A mixin of :class:`~.clicktocall.ClickToCall`, in the reactor thread like the rest of the
agent.

Holding both dialogs (see ``clicktocall``) is what makes hold and transfer possible without
the phone's help:
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

import random

from . import notices, sdp, sip
from .events import CallEvent, activity, far_failure_cause
from .leg import MAX_RING_TIMEOUT, Leg
from .notices import notice

# The states of a click-to-call in which the user talks, and may hold or transfer.
TALKING = ("connected", "on-hold")
GLARE_RETRIES = 2
# RFC 3261 §14.1: after a 491, the owner of the Call-ID waits 2.1 to 4 seconds.
GLARE_DELAY = (2.1, 4.0)


class MidCall:
    """Hold, resume, transfer and relayed re-INVITEs of a click-to-call (see the module
    docstring)."""

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
                    cause=far_failure_cause(response.code),
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
