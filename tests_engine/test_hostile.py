"""A hostile PBX (``lab/hostile.py``, a real WebSocket server) cannot crash or confuse the agent.

Each bad message is logged once at WARNING, without a traceback; a bad document inside a
valid NOTIFY still gets its 200; the connection stays up and a valid NOTIFY afterwards is
still reported.
"""

import logging
import os
import time

import pytest
from recorder import EventRecorder

from cti_engine import AgentConfig, UserAgent
from lab.hostile import OP_CONT, OP_TEXT, HostilePbx

DIALOG_INFO = "application/dialog-info+xml"
NS = 'xmlns="urn:ietf:params:xml:ns:dialog-info"'


def document(version, dialogs=""):
    return (
        f'<?xml version="1.0"?>\n<dialog-info {NS} version="{version}" state="full" '
        f'entity="sip:1001@pbx.test">{dialogs}</dialog-info>'
    )


RINGING_DIALOG = (
    '<dialog id="d1" call-id="hostile-1@127.0.0.1" local-tag="lt" remote-tag="rt" '
    'direction="recipient"><state>early</state>'
    "<remote><identity>sip:+4930123456@pbx.test</identity></remote>"
    "<local><identity>sip:1001@pbx.test</identity></local></dialog>"
)
EXTERNAL_ENTITY = (
    '<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>\n'
    f'<dialog-info {NS} version="5" state="full" entity="&e;"/>'
)
BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
    + "]>\n"
    + f'<dialog-info {NS} version="6" state="full" entity="&lol9;"/>'
).replace("&lol0;", "&lol;")


@pytest.fixture
def hostile_pbx():
    pbx = HostilePbx(users={"1001": "secret1001"}).start()
    yield pbx
    pbx.stop()


@pytest.fixture
def hostile_agent(hostile_pbx, reactor):
    events = EventRecorder()
    config = AgentConfig(
        ws_url=hostile_pbx.ws_url,
        domain=hostile_pbx.domain,
        username="1001",
        password="secret1001",
        display_name="User 1001",
    )
    agent = UserAgent(config, reactor, events)
    agent.login()
    events.wait_for("READY")
    hostile_pbx.wait_for(lambda: hostile_pbx.notify_cseq >= 1, what="initial NOTIFY")
    yield agent, events
    agent.logout()
    time.sleep(0.2)


def test_hostile_pbx_cannot_break_the_agent(hostile_pbx, hostile_agent, caplog):
    agent, events = hostile_agent
    pbx = hostile_pbx
    caplog.set_level(logging.WARNING, logger="cti_engine")
    caplog.clear()
    _cseq, valid_notify = pbx.notify_text(document(2, RINGING_DIALOG))
    head = valid_notify.split(b"\r\n\r\n", 1)[0]

    bad_messages = 0

    def bad(send, *args):
        nonlocal bad_messages
        bad_messages += 1
        send(*args)

    bad(pbx.send_text, "this is not SIP at all")
    bad(pbx.send_frame, OP_TEXT, b"\xff\xfe\x00\x80 not UTF-8 either")
    bad(pbx.send_text, valid_notify[:150])  # cut inside the headers
    bad(pbx.send_text, head.replace(b"Content-Length: ", b"Content-Length: 9") + b"\r\n\r\n<d")
    bad(pbx.send_text, head + b"\r\nX-Big: " + b"a" * 10000 + b"\r\n\r\n")
    bad(pbx.send_text, head + b"\r\n" + b"X-Many: 1\r\n" * 300 + b"\r\n")
    bad(pbx.send_text, b"SIP/2.0 200 OK\r\n\r\n" + b"x" * 70000)
    bad(pbx.send_binary, os.urandom(600))
    bad(pbx.send_binary, b"\x00" * 64 + b"\r\n\r\n")
    xml_cseqs = []
    for body in ("<dialog-info <<<", EXTERNAL_ENTITY, BILLION_LAUGHS, document("x")):
        bad_messages += 1
        xml_cseqs.append(pbx.send_notify(body))
    pbx.send_text(valid_notify)

    ringing = events.wait_for("RINGING", timeout=10)
    assert ringing["call"]["source"] == "+4930123456"
    assert ringing["call"]["direction"] == "INBOUND"
    for cseq in xml_cseqs:  # valid SIP messages: acknowledged although the body is refused
        answers = pbx.wait_for(lambda c=cseq: pbx.responses_to("NOTIFY", c), what=f"200 {cseq}")
        assert [a.code for a in answers] == [200]
    time.sleep(0.3)
    warnings = [r for r in caplog.records if r.name.startswith("cti_engine")]
    assert len(warnings) == bad_messages, [r.getMessage()[:120] for r in warnings]
    assert all(r.levelno == logging.WARNING for r in warnings)
    assert not any(r.exc_info for r in warnings)
    assert not any("root:" in r.getMessage() or "passwd" in r.getMessage() for r in warnings)
    assert pbx.connections == 1  # no reconnection: nothing above broke the WebSocket
    assert agent.is_connected()
    assert events.names() == ["LOGGED_IN", "READY", "RINGING"]


def test_unreadable_headers_in_the_subscribe_answer(hostile_pbx, reactor, caplog):
    """sipmessage reads Contact, Record-Route and Expires lazily: broken ones must not leave
    the subscription half set up."""
    hostile_pbx.ok_headers = ["Expires: soon", "Contact: <<<>", "Record-Route: ;;;"]
    events = EventRecorder()
    config = AgentConfig(
        ws_url=hostile_pbx.ws_url, domain=hostile_pbx.domain, username="1001", password="secret1001"
    )
    agent = UserAgent(config, reactor, events)
    agent.login()
    try:
        events.wait_for("READY")
        hostile_pbx.send_notify(document(2, RINGING_DIALOG))
        events.wait_for("RINGING")
        assert not any(r.exc_info for r in caplog.records)
    finally:
        agent.logout()


@pytest.mark.parametrize("flood", ["huge frame", "endless fragments"])
def test_oversized_frames_are_refused_before_they_are_read(hostile_pbx, hostile_agent, flood):
    """A frame header announcing a terabyte, or fragments that never end, cost the agent
    no memory: the connection is dropped at the header, the agent reconnects."""
    agent, events = hostile_agent
    pbx = hostile_pbx
    if flood == "huge frame":
        pbx.send_frame_header(OP_TEXT, 1 << 40)
    else:
        pbx.send_frame(OP_TEXT, b"x" * 60000, fin=False)
        for _ in range(20):
            pbx.send_frame(OP_CONT, b"x" * 60000, fin=False)
    pbx.wait_for(lambda: pbx.connections >= 2, timeout=15, what="a new connection")
    events.wait_for("READY", count=2, timeout=15)
    assert agent.is_connected()
    pbx.send_notify(document(2, RINGING_DIALOG))
    assert events.wait_for("RINGING")["call"]["direction"] == "INBOUND"
