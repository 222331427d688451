"""Transfer or hang up an observed call by taking over the other party's dialog (RFC 3891).

On a PBX that is only a SIP proxy (Kamailio), an inbound call answered on the desk phone
never passes through the agent, and the phone may not hand it over (baresip answers
INVITE/Replaces with 420, see ``takeover``). The other side of that call, the caller's
phone or SIP trunk, often does: the agent sends it an INVITE with ``Replaces`` naming the
caller's dialog (Call-ID and tags from dialog-info, ``to-tag`` = the caller's own tag,
RFC 3891 §3) to its Contact (dialog-info's ``remote/target``), through the PBX. The caller
swaps the old dialog for the agent's and hangs the user's phone up (BYE); its call goes on
with the agent, which then:

* hang up: answers the caller's offer refusing every stream, and sends BYE;
* transfer: has first INVITEd the transfer target without an offer, exactly like a
  click-to-call transfer (RFC 3725 flow I). The target's offer goes to the caller in the
  INVITE with Replaces, the caller's answer to the target in its ACK, and the agent keeps
  joining the two dialogs (``clicktocall.Bridge``). The target is called before the caller
  is taken over, so that a target that is busy or does not answer leaves the user's call as
  it was (an ERROR says so) instead of a caller taken away from the user with nobody to
  talk to; the user keeps talking while the target rings, as with a click-to-call transfer.

``Require: replaces`` makes a side without support refuse (420) instead of ringing; a 2xx
without a To tag (what a UA that does not understand the request at all may send) is no
takeover either. Either way the user's call goes on untouched and an INFO says so; the
agent then stops offering these controls for calls from that host (see the agent).
"""

import logging

from . import notices, sdp, sip
from .clicktocall import Bridge
from .events import activity, far_failure_cause
from .leg import MAX_RING_TIMEOUT, Leg
from .notices import notice

_logger = logging.getLogger(__name__)


class RemoteTakeover:
    """One takeover of the other party's dialog of ``call``, to hang it up
    (``destination`` None) or to transfer it to ``destination``."""

    def __init__(self, agent, call, tags, remote, destination, on_done):
        self.agent = agent
        self.call = call
        self.tags = tags  # (call-id, the phone's tag, the other party's tag)
        self.destination = destination
        self.on_done = on_done  # on_done(self) once it succeeded or failed
        self.replaced = False
        self.refusal = None  # the other side's answer when it did not take the call over
        identity, target = remote
        self.remote_host = remote_host(target)
        self.caller = Leg(
            sip.new_call_id(agent.contact_host),
            agent.aor,
            identity,
            target,
            local_name=agent.config.display_name,
        )
        self.target = None
        self.target_tx = None
        self.target_timer = None
        self.target_offer = b""
        self.finished = False
        # Why the user's phone would not hand the call over first (hang up tries it first).
        self.phone_refusal = ""

    @property
    def call_ids(self):
        ids = [self.caller.call_id]
        if self.target is not None:
            ids.append(self.target.call_id)
        return tuple(ids)

    def start(self):
        agent = self.agent
        agent.add_leg(self, self.caller)
        if self.destination is None:
            self._replace(b"")
            return
        self.target = Leg(
            sip.new_call_id(agent.contact_host),
            agent.aor,
            agent.uri_for(self.destination),
            agent.uri_for(self.destination),
            local_name=agent.config.display_name,
        )
        agent.add_leg(self, self.target)
        self.target_tx = agent.send_invite(self.target, b"", [], self._target_response)
        timeout = min(agent.config.ring_timeout, MAX_RING_TIMEOUT)
        self.target_timer = agent.reactor.call_later(timeout, self._target_timeout)

    # -- the transfer target ---------------------------------------------------------------

    def _target_response(self, response):
        if response.code < 200:
            return
        if self.finished:
            if response.code < 300:
                self._ack_and_bye(self.target, response)
            return
        self._cancel_target_timer()
        if response.code >= 300:
            self._finish()
            self.agent.emit(
                activity(
                    "ERROR",
                    notices.TRANSFER_FAILED,
                    destination=self.destination,
                    cause=far_failure_cause(response.code),
                )
            )
            return
        self.target.establish(response)
        self.target.confirmed = True
        self.target_offer = response.body
        self._replace(response.body)

    def _target_timeout(self):
        self.target_timer = None
        if not self.finished and self.target is not None and not self.target.confirmed:
            self.agent.transactions.cancel(self.target_tx, self.agent.via)

    # -- the other party -------------------------------------------------------------------

    def _replace(self, offer):
        call_id, phone_tag, other_tag = self.tags
        headers = [
            # RFC 3891 §3: to-tag is the recipient's (the other party's) own tag.
            ("Replaces", f"{call_id};to-tag={other_tag};from-tag={phone_tag}"),
            ("Require", "replaces"),
        ]
        if self.destination is None:
            self.agent.tracker.ended_by_agent(self.call.id, "terminated")
        else:
            self.agent.tracker.transferred(self.call.id, self.destination)
        self.agent.send_invite(self.caller, offer, headers, self._caller_response)

    def _caller_response(self, response):
        if response.code < 200:
            return
        caller = self.caller
        tagged = sip.header_param(response.headers.get("To", ""), "tag")
        if 200 <= response.code < 300 and tagged:
            caller.establish(response)
            caller.confirmed = True
            self.replaced = True
            if self.destination is None:
                answer = sdp.refusal_answer(response.body)
                self.agent.send_ack(caller, answer, "application/sdp" if answer else None)
                self.agent.send_bye(caller)
                self._finish()
                return
            self.agent.send_ack(caller)
            answer = response.body
            self.agent.send_ack(self.target, answer, response.headers.get("Content-Type"))
            bridge = Bridge(
                self.agent,
                self.call,
                caller,
                self.target,
                caller_sdp=answer,
                target_sdp=self.target_offer,
            )
            self.finished = True
            self.agent.remote_bridged(self, bridge)
            self.on_done(self)
            return
        if 200 <= response.code < 300:
            # Not a dialog (no To tag): whatever answered did not take the call over.
            caller.establish(response)
            self.agent.send_ack(caller)
            self.agent.send_bye(caller)
        self.refusal = response.code
        self._undo()
        _logger.info(
            "CTI %s: the other party refused to hand call %s over: %s %s",
            self.agent.config.username,
            self.call.id,
            response.code,
            response.phrase,
        )
        refused = f"{response.code} {response.phrase}"
        if not tagged and 200 <= response.code < 300:
            refused += " without a dialog"
        if self.destination is not None:
            why = notice(notices.CANNOT_TRANSFER_OTHER_REFUSED, status=refused)
        elif self.phone_refusal:
            why = notice(
                notices.CANNOT_END_BOTH_REFUSED, status=self.phone_refusal, other_status=refused
            )
        else:
            why = notice(notices.CANNOT_END_OTHER_REFUSED, status=refused)
        self.agent.emit(activity("INFO", why))
        self._finish()

    def _undo(self):
        self.call.transferredTo = ""
        self.agent.tracker.ended_by_agent(self.call.id, None)
        target = self.target
        if target is not None and target.confirmed:
            self.agent.send_ack(target, sdp.refusal_answer(self.target_offer), "application/sdp")
            self.agent.send_bye(target)

    # -- requests from either side before the bridge exists -----------------------------------

    def on_reinvite(self, leg, request):
        self.agent.respond(request, 491, "Request Pending")

    def on_bye(self, leg):
        """A side hung up before the takeover completed: the target before the caller was
        taken over (the transfer then fails), or the caller right after."""
        if self.finished:
            return
        if leg is self.target:
            leg.confirmed = False
            self.agent.emit(
                activity(
                    "ERROR", notices.TRANSFER_FAILED, destination=self.destination, cause="hangup"
                )
            )
        self._finish()

    def terminate(self, _cause="terminated"):
        """Logout or connection lost while under way: stop, leave the call as it is."""
        if self.finished:
            return
        if self.target is not None and not self.target.confirmed and self.target_tx:
            self.agent.transactions.cancel(self.target_tx, self.agent.via)
        self._undo()
        self._finish()

    def _finish(self):
        if self.finished:
            return
        self.finished = True
        self._cancel_target_timer()
        self.on_done(self)

    def _cancel_target_timer(self):
        if self.target_timer is not None:
            self.target_timer.cancel()
            self.target_timer = None

    def _ack_and_bye(self, leg, response):
        leg.establish(response)
        self.agent.send_ack(leg)
        self.agent.send_bye(leg)


def remote_host(uri):
    """The host of a SIP URI (no port): the other party's phone or trunk."""
    rest = uri.split(":", 1)[-1].split(";", 1)[0]
    host = rest.rsplit("@", 1)[-1]
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.split(":", 1)[0].lower()
