"""The Asterisk driver: SIP per user, plus one Manager Interface connection per PBX.

Asterisk reports a user's calls over SIP as one "line" per extension (see ``tracker``):
enough to show them, not to act on them, since the agent is in none of their dialogs and
Asterisk offers no Replaces for them. Its Manager Interface (AMI) acts on any channel. The
driver follows the channels from AMI events (``Newchannel``, ``Newstate``, ``DialBegin``,
``BridgeEnter``/``BridgeLeave``, ``Hangup``; after each (re)connection, ``CoreShowChannels``
rebuilds the picture), and so knows for each call of a user the channel of their phone
(``PJSIP/1001-0000002a``) and the channel on the other side. With those:

* **hang up** a connected call: ``Hangup`` of the phone's channel (and of the other side,
  when the driver holds it);
* **decline** a call ringing: ``Hangup`` of the ringing phone channels, cause 21 (rejected):
  the caller goes where the dialplan sends an unanswered call;
* **transfer** (blind) to an extension or a number: ``Redirect`` of the other side into the
  dialplan context users dial from (``context``, ``from-internal`` on FreePBX), then
  ``Hangup`` of the phone's channel;
* the phone's own **hold** key, which Asterisk leaves out of the phone's dialog-info, from
  the ``Hold``/``Unhold`` events;
* **ask-first transfer**: ``Atxfer`` on the phone's channel (Asterisk's attended transfer,
  the ``atxfer`` code of ``features.conf`` and Dial's ``t``/``T`` options, FreePBX's
  defaults): the caller waits on hold, the phone talks to the target, shown as a second
  line; **complete** is ``Hangup`` of the phone's channel (Asterisk then joins the caller and
  the target), **cancel** ``CancelAtxfer`` (back to the caller);
* **hold**: ``Redirect`` of both channels into the ``cti-hold`` context of the dialplan (the
  caller hears what it plays, e.g. music on hold; the phone stays in its call, silent);
  **resume**: ``Bridge`` of the two again.

The picture of the channels is kept by ``asterisk_channels`` (a mixin of the driver); this
module acts on it. Actions run only when the Manager Interface is up; calls are watched over
SIP either way, so losing it only takes controls away (the users are told, once, and told
again when it is back).
"""

import dataclasses
import logging
import secrets

from . import drivers, notices
from .ami import AmiClient, UnsafeAction
from .asterisk_channels import ChannelFollower
from .events import PBX_CONNECTION_LOST, Call, CallEvent, Direction, activity, call_event
from .notices import notice
from .tracker import stable_call_id

_logger = logging.getLogger(__name__)

NOT_RINGING = notice(notices.NOT_RINGING)
NOT_FOUND = notice(notices.NOT_FOUND)
CHANNELS_NOT_SEEN = (NOT_RINGING, NOT_FOUND)
# How long a control waits for the channels of a call to be announced (about 2 s).
CHANNEL_WAIT_ATTEMPTS = 10
CHANNEL_WAIT_STEP = 0.2

HOLD_CONTEXT = "cti-hold"
CAUSE_REJECTED = "21"


@dataclasses.dataclass
class Consult:
    """An ask-first transfer under way: the second line to the target."""

    agent: object
    call: Call  # the line shown to the user
    original: Call  # the call on hold meanwhile
    phone: str  # the phone's channel
    other: str  # the held call's other side
    target: str = ""  # the channel towards the target, once seen
    completing: bool = False


class AsteriskDriver(ChannelFollower, drivers.PbxDriver):
    kind = "asterisk"

    def __init__(
        self,
        reactor,
        host,
        port,
        username,
        secret,
        context="from-internal",
        hold_context=HOLD_CONTEXT,
    ):
        self.reactor = reactor
        self.context = context
        self.hold_context = hold_context
        self.client = AmiClient(
            reactor, host, port, username, secret, self._on_event, self._on_state
        )
        self._agents = {}  # extension -> agent
        self._channels = {}  # name -> Channel
        self._bridges = {}  # bridge id -> set of channel names
        self._held = {}  # call id -> (phone channel, other channel) the driver holds
        self._consults = {}  # id of the second line -> Consult
        self._problem = None  # what the users were last told is wrong, until it is right

    # -- lifecycle --------------------------------------------------------------------------

    def start(self):
        self.client.start()

    def stop(self):
        self.client.stop()
        self._forget_channels()

    def attach(self, agent):
        known = self._agents.get(agent.config.username) is agent
        self._agents[agent.config.username] = agent
        if self._problem and not known:
            agent.emit(activity("ERROR", self._problem))

    def detach(self, agent):
        if self._agents.get(agent.config.username) is agent:
            del self._agents[agent.config.username]

    def _on_state(self, state, why):
        where = f"{self.client.host}:{self.client.port}"
        if state == "ready":
            self.client.send_action("CoreShowChannels")
            if self._problem:
                self._problem = None
                self._tell(activity("INFO", notices.MANAGER_BACK))
            return
        if state == "refused":
            problem = notice(
                notices.MANAGER_REFUSED, address=where, user=self.client.username, **why
            )
        elif state == "down":
            problem = notice(notices.MANAGER_DOWN, address=where, **why)
        else:
            return
        self._forget_channels()
        if problem != self._problem:
            self._problem = problem
            _logger.warning("CTI Asterisk driver: %s %s", problem.code, problem.params)
            self._tell(activity("ERROR", problem))

    def _tell(self, payload):
        for agent in list(self._agents.values()):
            agent.emit(dict(payload))

    def _forget_channels(self):
        self._channels.clear()
        self._bridges.clear()
        self._held.clear()
        for consult in list(self._consults.values()):
            self._end_consult(consult, PBX_CONNECTION_LOST)

    # -- controls -----------------------------------------------------------------------------

    def own_call(self, agent, call_id):
        consult = self._consults.get(call_id)
        return consult.call if consult is not None and consult.agent is agent else None

    def controls(self, agent, call):
        if not self.client.ready:
            return ()
        if call.id in self._consults:
            if call.status == CallEvent.CONNECTED.value:
                return (drivers.TERMINATE, drivers.COMPLETE)
            return (drivers.TERMINATE,)
        if any(c.original.id == call.id for c in self._consults.values()):
            return ()  # on hold until the second line is completed or cancelled
        if call.status == CallEvent.RINGING.value:
            return (drivers.TERMINATE,)
        if call.id in self._held:
            return (drivers.TERMINATE, drivers.HOLD, drivers.TRANSFER)
        if call.status == CallEvent.CONNECTED.value:
            return (drivers.TERMINATE, drivers.HOLD, drivers.TRANSFER, drivers.CONSULT)
        if call.status == CallEvent.ON_HOLD.value:  # held on the phone itself
            return (drivers.TERMINATE, drivers.TRANSFER)
        return ()

    def act(self, agent, call, action, destination=None, attempt=0):
        if not self.client.ready:
            return notice(notices.MANAGER_NOT_CONNECTED)
        refusal = self._act(agent, call, action, destination)
        if refusal in CHANNELS_NOT_SEEN and attempt < CHANNEL_WAIT_ATTEMPTS:
            # The Manager Interface's channel events can trail the SIP NOTIFY that showed
            # the call: a control clicked at once waits for them a moment before giving up.
            agent.reactor.call_later(
                CHANNEL_WAIT_STEP, self._act_again, agent, call, action, destination, attempt + 1
            )
            return None
        return refusal

    def _act_again(self, agent, call, action, destination, attempt):
        if agent.tracker.find(call.id)[1] is None and self.own_call(agent, call.id) is None:
            return  # the call ended meanwhile: its final event said so
        refusal = self.act(agent, call, action, destination, attempt)
        if refusal:
            agent.emit(activity("INFO", refusal))

    def _act(self, agent, call, action, destination):
        consult = self._consults.get(call.id)
        if consult is not None:
            return self._finish_consult(consult, action)
        if action == drivers.CONSULT:
            return self._consult(agent, call, destination)
        if action == drivers.TERMINATE:
            return self._terminate(agent, call)
        if action in ("hold", "resume"):
            return self._hold(agent, call, action == "hold")
        if action == drivers.TRANSFER:
            return self._transfer(agent, call, destination)
        return notice(notices.NOT_AVAILABLE, action=action)

    def _terminate(self, agent, call):
        if call.status == CallEvent.RINGING.value:
            ringing = [c for c in self._phone_channels(agent, call) if not c.up]
            if not ringing:
                return NOT_RINGING
            inbound = call.direction is Direction.INBOUND
            agent.tracker.ended_by_agent(call.id, "rejected" if inbound else "terminated")
            for channel in ringing:
                self._send(
                    agent,
                    call,
                    "Hangup",
                    {"Channel": channel.name, "Cause": CAUSE_REJECTED if inbound else "16"},
                    "decline" if inbound else "hang up",
                )
            return None
        pair = self._talking(agent, call)
        if pair is None:
            return NOT_FOUND
        phone, other = pair
        agent.tracker.ended_by_agent(call.id, "terminated")
        self._send(agent, call, "Hangup", {"Channel": phone.name}, "hang up")
        if self._held.pop(call.id, None):
            self._send(agent, call, "Hangup", {"Channel": other.name}, "hang up")
        return None

    def _hold(self, agent, call, hold):
        pair = self._talking(agent, call)
        if pair is None:
            return NOT_FOUND
        phone, other = pair
        if hold == (call.id in self._held):
            return notice(notices.ALREADY_ON_HOLD if hold else notices.NOT_ON_HOLD)
        if hold:

            def held():
                self._held[call.id] = (phone.name, other.name)
                agent.tracker.set_held(call.id, True)

            fields = {
                "Channel": other.name,
                "Context": self.hold_context,
                "Exten": "caller",
                "Priority": "1",
                "ExtraChannel": phone.name,
                "ExtraContext": self.hold_context,
                "ExtraExten": "phone",
                "ExtraPriority": "1",
            }
            self._send(agent, call, "Redirect", fields, "hold", held)
        else:

            def resumed():
                self._held.pop(call.id, None)
                agent.tracker.set_held(call.id, False)

            fields = {"Channel1": phone.name, "Channel2": other.name, "Tone": "no"}
            self._send(agent, call, "Bridge", fields, "resume", resumed)
        return None

    def _transfer(self, agent, call, destination):
        pair = self._talking(agent, call)
        if pair is None:
            return NOT_FOUND
        phone, other = pair

        def redirected():
            self._held.pop(call.id, None)
            # The phone's channel may be gone already (its bridge ended): nothing to report.
            self.client.send_action("Hangup", {"Channel": phone.name})

        # Before the Redirect: the phone's line may go idle (a NOTIFY over SIP) before the
        # Manager Interface answers, and the call must end as transferred, not hung up.
        agent.tracker.transferred(call.id, destination)

        fields = {
            "Channel": other.name,
            "Context": self.context,
            "Exten": destination,
            "Priority": "1",
        }
        self._send(agent, call, "Redirect", fields, "transfer", redirected, destination=destination)
        return None

    # -- ask-first transfer ------------------------------------------------------------------

    def _consult(self, agent, call, destination):
        if not destination.isdigit():
            # Atxfer passes the target to Asterisk as DTMF digits: no "+".
            return (
                "Ask first works with extensions and numbers without +: "
                "use Transfer now for this number."
            )
        pair = self._talking(agent, call)
        if pair is None or call.id in self._held:
            return NOT_FOUND
        phone, other = pair

        def started():
            line = Call(
                id=stable_call_id(agent.aor, f"{call.id}|ask-first|{secrets.token_hex(8)}"),
                cid="",
                direction=Direction.OUTBOUND,
                source=agent.config.username,
                sourceName=agent.config.display_name,
                destination=destination,
            )
            consult = Consult(agent, line, call, phone.name, other.name)
            self._consults[line.id] = consult
            agent.tracker.set_held(call.id, True, by="ask-first")
            agent.emit(call_event(CallEvent.RINGING, line))

        fields = {"Channel": phone.name, "Exten": destination, "Context": self.context}
        self._send(agent, call, "Atxfer", fields, "call first", started, destination=destination)
        return None

    def _finish_consult(self, consult, action):
        agent = consult.agent
        if action == drivers.COMPLETE:
            if consult.call.status != CallEvent.CONNECTED.value:
                return f"{consult.call.destination} has not answered yet."
            consult.completing = True
            agent.tracker.transferred(consult.original.id, consult.call.destination)
            self._send(agent, consult.call, "Hangup", {"Channel": consult.phone}, "complete")
            return None
        if action == drivers.TERMINATE:
            self._send(agent, consult.call, "CancelAtxfer", {"Channel": consult.phone}, "cancel")
            return None
        return notice(notices.NOT_AVAILABLE, action=action)

    def _consult_bridged(self, consult, others):
        if consult.other in others:
            # Back with the caller: cancelled, or the target did not answer or hung up.
            cause = "cancelled" if consult.call.status == CallEvent.CONNECTED.value else "no answer"
            self._end_consult(consult, cause)
        elif others:
            consult.target = next(iter(others))
            target = self._channels.get(consult.target)
            if target is not None and target.up:
                self._consult_answered(consult)

    def _consult_answered(self, consult):
        if consult.call.status != CallEvent.CONNECTED.value:
            consult.agent.emit(call_event(CallEvent.CONNECTED, consult.call))

    def _end_consult(self, consult, cause):
        if self._consults.pop(consult.call.id, None) is None:
            return
        line = consult.call
        line.cause = cause
        if cause == "transferred":
            line.transferredTo = line.destination
        connected = line.status == CallEvent.CONNECTED.value
        consult.agent.emit(call_event(CallEvent.HANGUP if connected else CallEvent.CANCEL, line))
        if not consult.completing:
            consult.agent.tracker.set_held(consult.original.id, False, by="ask-first")

    def _send(self, agent, call, action, fields, what, on_success=None, destination=""):
        """Send AMI ``action``; ``what`` (of ``notices.ACTIONS``) the user is told failed."""

        def answered(response):
            if response is not None and response.get("Response", "").lower() == "success":
                if on_success is not None:
                    on_success()
                return
            reason = "no answer" if response is None else response.get("Message") or "refused"
            _logger.info(
                "CTI %s: the PBX did not %s call %s: %s",
                agent.config.username,
                what,
                call.id,
                reason,
            )
            if what in ("hang up", "decline", "transfer"):
                agent.tracker.ended_by_agent(call.id, None)
            agent.emit(
                activity(
                    "INFO",
                    notices.PBX_ACTION_FAILED,
                    action=what,
                    destination=destination,
                    reason=reason,
                )
            )

        try:
            self.client.send_action(action, fields, answered)
        except UnsafeAction as exc:  # a channel name from the PBX with a line break in it
            _logger.warning("CTI Asterisk driver: %s", exc)
            answered(None)
