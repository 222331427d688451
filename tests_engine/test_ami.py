"""The Manager Interface client against what a broken or hostile PBX sends.

A scripted TCP server plays the PBX: malformed lines, huge messages, binary junk, unknown
events and responses nobody asked for must neither crash the client nor the driver, and
nothing from the product may inject a second action into the stream.
"""

import socket
import threading
import time

import pytest
from recorder import EventRecorder

from cti_engine import notices
from cti_engine.ami import MAX_MESSAGE, AmiClient, MessageSplitter, UnsafeAction, format_action
from cti_engine.asterisk import AsteriskDriver
from cti_engine.asterisk_channels import same_number
from cti_engine.events import Call, CallEvent, Direction
from lab import wait_until


class ScriptedPbx:
    """A one-connection AMI server: sends ``before_login``, answers the Login with
    ``login_reply`` (``{id}`` is its ActionID), then sends ``after_login``."""

    def __init__(self, before_login=b"", login_reply="Success", after_login=b""):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.before_login = before_login
        self.login_reply = login_reply
        self.after_login = after_login
        self.received = b""
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        self.server.settimeout(10)
        conn, _ = self.server.accept()
        with conn:
            conn.sendall(b"Asterisk Call Manager/9.0.0\r\n" + self.before_login)
            while b"\r\n\r\n" not in self.received:
                data = conn.recv(4096)
                if not data:
                    return
                self.received += data
            action_id = next(
                line.split(":", 1)[1].strip()
                for line in self.received.decode().splitlines()
                if line.startswith("ActionID:")
            )
            reply = f"Response: {self.login_reply}\r\nActionID: {action_id}\r\n"
            if self.login_reply != "Success":
                reply += "Message: Authentication failed\r\n"
            conn.sendall(reply.encode() + b"\r\n" + self.after_login)
            time.sleep(1)

    def close(self):
        self.server.close()


@pytest.fixture
def states():
    return EventRecorder()


def client_for(reactor, pbx, states, events):
    client = AmiClient(
        reactor,
        "127.0.0.1",
        pbx.port,
        "cti",
        "secret",
        events,
        lambda state, why: states({"name": state, **why}),
    )
    reactor.run_sync(client.start)
    return client


def test_junk_before_and_after_login_is_dropped(reactor, states):
    junk = (
        b"no colon here\r\n\xff\xfe\x00binary\r\n\r\n"
        + b"Event: Huge\r\n"
        + b"X: "
        + b"a" * (MAX_MESSAGE + 10)
        + b"\r\n\r\n"
        + b"Response: Success\r\nActionID: nobody-asked\r\n\r\n"
    )
    many_fields = b"Event: Wide\r\n" + b"K: v\r\n" * 1000 + b"\r\n"
    after = junk + many_fields + b"Event: Newchannel\r\nChannel: PJSIP/1001-00000001\r\n\r\n"
    pbx = ScriptedPbx(before_login=junk, after_login=after)
    events = EventRecorder()
    client = client_for(reactor, pbx, states, events)
    try:
        assert states.wait_for("ready")
        wait_until(lambda: any(e.get("Event") == "Newchannel" for e in events.events), 5)
        received = [e.get("Event") for e in events.events]
        assert "Huge" not in received and "Wide" not in received  # beyond the limits
        assert received[-1] == "Newchannel"
    finally:
        reactor.run_sync(client.stop)
        pbx.close()


def test_refused_login_is_reported_once(reactor, states):
    pbx = ScriptedPbx(login_reply="Error")
    client = client_for(reactor, pbx, states, EventRecorder())
    try:
        refused = states.wait_for("refused")
        assert refused["reason"] == "Authentication failed"
        assert b"Secret: secret" in pbx.received
    finally:
        reactor.run_sync(client.stop)
        pbx.close()


def test_an_unreachable_manager_interface_says_why_in_codes(reactor, states):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = AmiClient(
        reactor,
        "127.0.0.1",
        port,
        "cti",
        "secret",
        EventRecorder(),
        lambda state, why: states({"name": state, **why}),
    )
    reactor.run_sync(client.start)
    try:
        down = states.wait_for("down")
        assert down["reason"] == notices.REASON_CANNOT_CONNECT
        assert "refused" in down["detail"].lower()  # the system's own words, as they came
    finally:
        reactor.run_sync(client.stop)


def test_line_breaks_never_reach_the_stream():
    for value in ("1002\r\nAction: Hangup", "x\n", "\x00"):
        with pytest.raises(UnsafeAction):
            format_action("Redirect", {"Exten": value}, "id-1")
    with pytest.raises(UnsafeAction):
        format_action("Redirect", {"Bad Key": "1"}, "id-1")
    assert format_action("Ping", {}, "id-1") == b"Action: Ping\r\nActionID: id-1\r\n\r\n"


def test_splitter_keeps_messages_across_reads():
    splitter = MessageSplitter()
    assert splitter.feed(b"Asterisk Call Manager/9.0.0\r\nEvent: A\r") == []
    assert splitter.feed(b"\nChannel: x\r\n") == []
    assert splitter.feed(b"\r\nEvent: B\n\n") == [["Event: A", "Channel: x"], ["Event: B"]]
    assert splitter.banner == "Asterisk Call Manager/9.0.0"
    assert splitter.feed(b"z" * 100000) == []  # an endless line: dropped, not kept
    assert splitter.feed(b"\r\n\r\nEvent: C\r\n\r\n") == [["Event: C"]]
    assert splitter.dropped == 1


def test_driver_survives_unexpected_events(reactor):
    """Events out of order, for unknown channels, with missing or odd fields."""
    driver = AsteriskDriver(reactor, "127.0.0.1", 1, "cti", "secret")
    odd = [
        {"Event": "Hangup", "Channel": "PJSIP/1001-00000009"},
        {"Event": "BridgeEnter"},
        {"Event": "BridgeEnter", "Channel": "nope", "BridgeUniqueid": "b"},
        {"Event": "BridgeLeave", "Channel": "PJSIP/1001-1", "BridgeUniqueid": "zz"},
        {"Event": "DialBegin", "DestChannel": "PJSIP/1001-00000002"},
        {"Event": "DialBegin", "Channel": "x", "DestChannel": ""},
        {"Event": "Newstate", "Channel": "PJSIP/1001-00000002", "ChannelState": "6"},
        {"Event": "Hold", "Channel": "PJSIP/1001-00000002"},
        {"Event": "Newchannel", "Channel": "weird name without sequence"},
        {"Event": "CoreShowChannel", "Channel": "PJSIP/x-1", "BridgeId": "b2"},
        {"Event": "Unknown", "Channel": "PJSIP/1001-00000002"},
        {},
    ]
    for event in odd:
        reactor.run_sync(driver._on_event, event)
    call = Call(id="c", cid="k", direction=Direction.INBOUND, status=CallEvent.CONNECTED.value)
    assert driver.controls(None, call) == ()  # never logged in: nothing offered


def test_numbers_compare_as_people_read_them():
    assert same_number("+4930123456", "030123456")
    assert same_number("1002", "1002")
    assert not same_number("1002", "1003")
    assert not same_number("", "")
