"""Remote control of the user's phone: answer and hold by ``Event: talk`` / ``Event: hold``.

Many desk phones (Yealink, Polycom, Grandstream, Fanvil, Snom, where their settings allow
it) take an unsolicited, out-of-dialog NOTIFY as a key press: ``Event: talk`` answers the
call ringing on them, or resumes the call they hold; ``Event: hold`` puts the call they are
in on hold. A PBX that routes requests to its users' registered phones (Kamailio-style)
carries such a NOTIFY sent to the user's address to the phone.

Whether the phone takes them is asked, never configured: an OPTIONS to the user's address
reaches the phone the same way, and its 2xx lists the event packages it accepts in
``Allow-Events`` (RFC 6665 §8.2.2). A phone that lists ``talk`` is offered Answer; one that
lists ``talk`` and ``hold`` is offered Hold and Resume. The agent asks at login and at each
refresh of its subscription. A phone that then refuses a NOTIFY (a 4xx/5xx/6xx, or no
answer) is not offered that control again until the next login: it said it could and it
could not, and the user is told why once.

A NOTIFY names no call: the phone acts on the call it has. So the controls are offered only
while the user has exactly one call in the state the key acts on (one call ringing for
Answer, one call up for Hold).

Runs in the reactor thread, like the agent that owns it.
"""

import logging

from . import drivers, notices, sip
from .events import CallEvent, Direction, activity
from .notices import notice

_logger = logging.getLogger(__name__)

TALK = "talk"
HOLD = "hold"
# What the agent sends for each control, and what the user is told when the phone refuses.
_EVENTS = {drivers.ANSWER: TALK, "resume": TALK, "hold": HOLD}
_UP = (CallEvent.CONNECTED.value, CallEvent.ON_HOLD.value)


def allowed_events(response):
    """The event packages a response's ``Allow-Events`` headers list, lower-cased."""
    events = set()
    for name in ("Allow-Events", "u"):  # "u": its compact form (RFC 6665 §8.2.2)
        for value in response.headers.getlist(name):
            for item in str(value).split(","):
                token = item.split(";", 1)[0].strip().lower()
                if token and sip.TOKEN.match(token):
                    events.add(token)
    return frozenset(events)


class PhoneControl:
    """The remote-control keys of one user's phone, for that user's agent."""

    def __init__(self, agent):
        self.agent = agent
        self.events = frozenset()  # what the phone's last answer to OPTIONS listed
        self.refused = set()  # events the phone refused since login
        self.probed = False  # the phone (or the PBX for it) answered an OPTIONS since login

    def reset(self):
        """A new login: what the phone takes is asked again."""
        self.events = frozenset()
        self.refused.clear()
        self.probed = False

    @property
    def accepted(self):
        return self.events - self.refused

    def probe(self):
        """Ask the user's phone which event packages it accepts (OPTIONS, RFC 3261 §11)."""
        self._send("OPTIONS", [("Accept", "application/sdp")], self._probed)

    def _send(self, method, headers, on_response):
        """``method`` out of dialog to the user's address, where the PBX finds the phone."""
        agent = self.agent
        leg = agent.leg_to_self()
        agent.transactions.start(
            leg,
            lambda auth_headers: leg.request(
                method, agent.via, agent.contact, headers=[*headers, *auth_headers]
            ),
            on_response,
        )

    def _probed(self, response):
        if response.code < 200:
            return
        if response.code < 300:
            self.events = allowed_events(response)
        elif response.code not in (408, 503) or self.agent.transport.connected:
            # Not registered (480), not found, refused: nothing to offer for now.
            self.events = frozenset()
        self.probed = True
        _logger.debug(
            "CTI %s: the phone accepts events %s", self.agent.config.username, sorted(self.events)
        )

    def controls(self, call, calls):
        """The controls ``call`` (an observed ``Call``) gets from the phone's keys, given
        all the user's observed ``calls``."""
        accepted = self.accepted
        if TALK not in accepted:
            return ()
        if call.status == CallEvent.RINGING.value:
            ringing = [c for c in calls if c.status == CallEvent.RINGING.value]
            if call.direction is Direction.INBOUND and len(ringing) == 1:
                return (drivers.ANSWER,)
            return ()
        if call.status in _UP and HOLD in accepted:
            if len([c for c in calls if c.status in _UP]) == 1:
                return (drivers.HOLD,)
        return ()

    def act(self, call, action):
        """Press the phone's key for ``action`` ("answer", "hold" or "resume") on ``call``;
        the outcome arrives as events. Returns None, or why it cannot (an INFO)."""
        event = _EVENTS.get(action)
        if event is None:
            return notice(notices.NOT_AVAILABLE, action=action)
        if action == "hold" and call.status == CallEvent.ON_HOLD.value:
            return notice(notices.ALREADY_ON_HOLD)
        if action == "resume" and call.status != CallEvent.ON_HOLD.value:
            return notice(notices.NOT_ON_HOLD)
        self._send(
            "NOTIFY",
            [("Event", event), ("Subscription-State", "active")],
            lambda response: self._done(call.id, action, response),
        )
        return None

    def _done(self, call_id, action, response):
        if response.code < 200:
            return
        agent = self.agent
        if response.code < 300:
            # The phone took the key. Answering shows in its dialog state; hold does not
            # on every PBX, so the agent says it.
            if action in ("hold", "resume"):
                agent.tracker.set_held(call_id, action == "hold", by="phone key")
            return
        if response.code in (408, 503) and not agent.transport.connected:
            return  # the connection is gone: the agent reports that
        self.refused.add(_EVENTS[action])
        agent.emit(
            activity(
                "INFO",
                notices.PHONE_KEY_REFUSED,
                action=action,
                status=f"{response.code} {response.phrase}",
            )
        )
