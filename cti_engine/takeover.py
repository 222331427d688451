"""Ending a call the agent only observes, by taking its dialog over (RFC 3891, Replaces).

An inbound call answered on the desk phone never passes through the agent. The standard way
to end it from outside is an INVITE with ``Replaces`` naming the phone's dialog: a phone that
supports it swaps the old call for the new one (the caller gets a BYE), and the agent then
hangs up the new one. The dialog identifiers come from dialog-info (``call-id``,
``local-tag``, ``remote-tag``; Kamailio only sends the tags while the call is early, hence
the tracker keeps them). ``Require: replaces`` makes a phone without support refuse
(420) instead of ringing as if this were a new call; the user is then told to hang up on
the phone. RFC 3891 §3 also has a phone refuse (481) to replace an early dialog it did not
initiate, so the agent does not try it on an inbound call still ringing (see the agent).
"""

import logging

from . import sdp, sip
from .leg import Leg

_logger = logging.getLogger(__name__)


class Takeover:
    def __init__(self, agent, call, tags, on_done):
        self.agent = agent
        self.call = call
        self.tags = tags  # (call-id, the phone's tag, the other party's tag)
        self.on_done = on_done
        self.replaced = False  # the phone handed the call over (and hung it up)
        self.refusal = None  # the phone's final answer when it did not
        self.refusal_text = ""  # the same, with its reason phrase (the agent tells the user)
        self.leg = Leg(
            sip.new_call_id(agent.contact_host),
            agent.aor,
            agent.aor,
            agent.aor,
            local_name=agent.config.display_name,
        )

    def start(self):
        call_id, phone_tag, other_tag = self.tags
        headers = [
            # RFC 3891 §3: to-tag is matched against the recipient's local tag.
            ("Replaces", f"{call_id};to-tag={phone_tag};from-tag={other_tag}"),
            ("Require", "replaces"),
        ]
        self.agent.send_invite(self.leg, b"", headers, self._response)

    def _response(self, response):
        if response.code < 200:
            return
        if response.code < 300:
            # The phone dropped the old call; end the new one it answered in its place.
            self.leg.establish(response)
            self.leg.confirmed = True
            answer = sdp.refusal_answer(response.body)
            self.agent.send_ack(self.leg, answer, "application/sdp" if answer else None)
            self.agent.send_bye(self.leg)
            self.replaced = True
            self.on_done(self)
            return
        self.refusal = response.code
        self.refusal_text = f"{response.code} {response.phrase}"
        _logger.info(
            "CTI %s: the phone refused to hand call %s over: %s %s",
            self.agent.config.username,
            self.call.id,
            response.code,
            response.phrase,
        )
        self.on_done(self)
