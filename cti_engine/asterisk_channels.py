"""The Asterisk driver's picture of the PBX: which channels exist, what each dialled and is
bridged to, and so which channels carry a user's call (see ``asterisk``).

Built from the Manager Interface's events (``Newchannel``, ``Newstate``, ``DialBegin``,
``BridgeEnter``/``BridgeLeave``, ``Hangup``, ``Hold``/``Unhold``) and, after each
(re)connection, ``CoreShowChannels``. :class:`ChannelFollower` is a mixin of
``AsteriskDriver``: the driver acts, this follows.
"""

import dataclasses
import re

from .events import Direction

# "PJSIP/1001-0000002a": technology, endpoint, a sequence number.
CHANNEL_NAME = re.compile(r"^[A-Za-z0-9_]+/(?P<endpoint>[^/]+?)-[0-9a-fA-F]+$")
# A PBX reporting more channels than this is not believed (memory stays bounded).
MAX_CHANNELS = 5000
STATE_UP = "6"
SUFFIX = 8  # digits two numbers share at the end to be the same (national vs E.164)
# What a phone may have dialled, as Asterisk reports its dialplan extension.
DIALLED = re.compile(r"^\+?[0-9*#]{1,32}$")


@dataclasses.dataclass
class Channel:
    name: str
    endpoint: str = ""
    uniqueid: str = ""
    linkedid: str = ""
    number: str = ""  # its caller id number
    up: bool = False
    peer: str = ""  # the channel on the other side (dialled by it, dialling it, bridged)
    bridge: str = ""
    dialled: str = ""  # what it dialled (its dialplan extension when it dialled out)


def _endpoint(name):
    match = CHANNEL_NAME.match(name)
    return match["endpoint"] if match else ""


def _digits(number):
    return "".join(c for c in number if c.isdigit())


def same_number(a, b):
    """Whether two caller ids are the same number (``+4930123456`` and ``030123456``)."""
    a, b = _digits(a), _digits(b)
    if not a or not b:
        return False
    return a == b or (min(len(a), len(b)) >= SUFFIX and a[-SUFFIX:] == b[-SUFFIX:])


class ChannelFollower:
    """The channels of the PBX as its events describe them (``self._channels``, by name;
    ``self._bridges``, bridge id -> channel names), for :class:`~.asterisk.AsteriskDriver`."""

    def _on_event(self, event):
        name = event.get("Event", "")
        handler = self._HANDLERS.get(name)
        if handler is not None:
            handler(self, event)

    def _channel(self, event, create=False, key="Channel"):
        name = event.get(key, "")
        channel = self._channels.get(name)
        if channel is None and create and name and len(self._channels) < MAX_CHANNELS:
            channel = Channel(name=name, endpoint=_endpoint(name))
            self._channels[name] = channel
        return channel

    def _on_newchannel(self, event):
        channel = self._channel(event, create=True)
        if channel is None:
            return
        channel.uniqueid = event.get("Uniqueid", "")
        channel.linkedid = event.get("Linkedid", "")
        channel.number = event.get("CallerIDNum", "")
        channel.up = event.get("ChannelState") == STATE_UP

    def _on_newstate(self, event):
        channel = self._channel(event)
        if channel is not None:
            channel.up = event.get("ChannelState") == STATE_UP
            channel.number = event.get("CallerIDNum", channel.number)
            for consult in list(self._consults.values()):
                if channel.up and consult.target == channel.name:
                    self._consult_answered(consult)

    def _on_dial_begin(self, event):
        caller = self._channel(event)
        callee = self._channel(event, key="DestChannel", create=True)
        if callee is None:
            return
        callee.number = callee.number or event.get("DestCallerIDNum", "")
        if caller is not None:
            dialled = event.get("Exten", "")
            if DIALLED.match(dialled):
                caller.dialled = dialled
            callee.peer = caller.name
            if not caller.bridge:
                caller.peer = callee.name

    def _on_bridge_enter(self, event):
        channel = self._channel(event)
        bridge_id = event.get("BridgeUniqueid", "")
        if channel is None or not bridge_id:
            return
        channel.bridge = bridge_id
        members = self._bridges.setdefault(bridge_id, set())
        members.add(channel.name)
        pair = [self._channels[name] for name in members if name in self._channels]
        if len(pair) == 2:
            first, second = pair
            first.peer, second.peer = second.name, first.name
        for consult in list(self._consults.values()):
            if consult.phone in members:
                self._consult_bridged(consult, members - {consult.phone})

    def _on_bridge_leave(self, event):
        channel = self._channel(event)
        bridge_id = event.get("BridgeUniqueid", "")
        members = self._bridges.get(bridge_id)
        if channel is not None:
            channel.bridge = ""
        if members is not None:
            members.discard(event.get("Channel", ""))
            if not members:
                del self._bridges[bridge_id]

    def _on_hangup(self, event):
        channel = self._channels.pop(event.get("Channel", ""), None)
        if channel is not None and channel.bridge in self._bridges:
            self._bridges[channel.bridge].discard(channel.name)
        if channel is None:
            return
        for consult in list(self._consults.values()):
            if channel.name == consult.phone:
                # Hanging up the phone completes an attended transfer, from Odoo or not.
                if not consult.completing:
                    consult.completing = True
                    consult.agent.tracker.transferred(consult.original.id, consult.call.destination)
                self._end_consult(consult, "transferred")
            elif channel.name == consult.other:
                self._end_consult(consult, "the caller hung up")

    def _on_core_show_channel(self, event):
        channel = self._channel(event, create=True)
        if channel is None:
            return
        self._on_newchannel(event)
        bridge_id = event.get("BridgeId", "")
        if bridge_id:
            self._on_bridge_enter({"Channel": channel.name, "BridgeUniqueid": bridge_id})

    def _on_hold(self, event, held=True):
        """The phone's own hold key: Asterisk shows it to the other side, not in the
        phone's device state (so not in its dialog-info), but says it here."""
        channel = self._channel(event)
        agent = self._agents.get(channel.endpoint) if channel is not None else None
        if agent is None:
            return
        for call in agent.tracker.active_calls:
            if channel in self._phone_channels(agent, call):
                agent.tracker.set_held(call.id, held, by="phone")
                return

    def _on_unhold(self, event):
        self._on_hold(event, held=False)

    _HANDLERS = {
        "Newchannel": _on_newchannel,
        "Newstate": _on_newstate,
        "DialBegin": _on_dial_begin,
        "BridgeEnter": _on_bridge_enter,
        "BridgeLeave": _on_bridge_leave,
        "Hangup": _on_hangup,
        "CoreShowChannel": _on_core_show_channel,
        "Hold": _on_hold,
        "Unhold": _on_unhold,
    }

    def fill_in(self, agent, call):
        """A call placed on the desk phone: Asterisk's dialog-info names nobody, its
        ``DialBegin`` says what the phone dialled."""
        if call.direction is not Direction.OUTBOUND or call.destination:
            return False
        own = agent.config.username
        dialled = {
            c.dialled
            for c in self._channels.values()
            if c.endpoint == own and c.dialled and not same_number(c.dialled, own)
        }
        if len(dialled) != 1:  # none yet, or two calls dialled at once: not guessed
            return False
        call.destination = dialled.pop()
        return True

    # -- which channels a call is ----------------------------------------------------------

    def _phone_channels(self, agent, call):
        """The channels of the user's phones that carry ``call``, best match first."""
        mine = [c for c in self._channels.values() if c.endpoint == agent.config.username]
        remote = call.source if call.direction is Direction.INBOUND else call.destination
        if remote:
            matching = [c for c in mine if same_number(self._peer_number(c), remote)]
            if matching:
                return matching
        # The agent's own click-to-call legs come from the same endpoint: never those.
        others = [c for c in mine if not same_number(self._peer_number(c), agent.config.username)]
        return others if len(others) == 1 or not remote else []

    def _peer_number(self, channel):
        peer = self._channels.get(channel.peer)
        return peer.number if peer is not None else ""

    def _talking(self, agent, call):
        """(phone channel, other channel) of a connected call, or None."""
        if call.id in self._held:
            names = self._held[call.id]
            channels = [self._channels.get(name) for name in names]
            return tuple(channels) if all(channels) else None
        for channel in self._phone_channels(agent, call):
            peer = self._channels.get(channel.peer)
            if channel.up and peer is not None:
                return channel, peer
        return None
