"""No value the agent writes into SIP can add a header line (issue 14, item 1).

An Odoo user may edit their own name, which becomes the display name of the agent's
requests; a name with CR/LF once reached the wire as extra header lines. The gate is
``sip.serialize``, through which every message passes; display names are written as
RFC 3261 quoted-strings.
"""

import time

import pytest
from conftest import LAB_USERS
from recorder import EventRecorder
from sipmessage import Request

from cti_engine import AgentConfig, UserAgent, sip

HOSTILE_NAME = "Carol\r\nCall-Info: <sip:x>;answer-after=0"
FAR_END = "+4989555000"


def wire_recorder(agent):
    """Every message the agent puts on the wire, as text (a client-side sipdump)."""
    frames = []
    send = agent.transport.send

    def recording_send(data):
        frames.append(data.decode() if isinstance(data, bytes) else data)
        return send(data)

    agent.transport.send = recording_send
    agent.transactions.send = recording_send
    return frames


def header_lines(frame):
    return frame.split("\r\n\r\n", 1)[0].split("\r\n")[1:]


def test_quoted_display_name():
    assert sip.quoted_display_name(HOSTILE_NAME) == '"Carol Call-Info: <sip:x>;answer-after=0"'
    assert sip.quoted_display_name('Al "Bo" \\ Cy') == '"Al \\"Bo\\" \\\\ Cy"'
    assert sip.quoted_display_name("\x00\r\n\u2028") == ""
    assert sip.name_addr("sip:1001@pbx.test", "") == "<sip:1001@pbx.test>"


@pytest.mark.parametrize(
    "value", ["a\r\nVia: x", "a\nb", "a\rb", "a\x00b", "a\x1bb", "a\x85b", "a\u2028b"]
)
def test_serialize_refuses_control_characters_in_any_header(value):
    request = Request(method="OPTIONS", uri="sip:1001@pbx.test")
    request.headers.add("Subject", value)
    with pytest.raises(sip.UnsafeValue):
        sip.serialize(request)
    ok = Request(method="OPTIONS", uri="sip:1001@pbx.test")
    ok.headers.add("Subject", "tab\tand UTF-8 é")
    assert b"Subject: tab\tand UTF-8 \xc3\xa9\r\n" in sip.serialize(ok)


@pytest.mark.parametrize(
    "uri", ["sip:1001@pbx.test SIP/2.0\r\nX: y", "sip:1001@pbx.test\x00", "sip:a b@pbx.test"]
)
def test_serialize_refuses_a_request_uri_that_breaks_the_start_line(uri):
    with pytest.raises(sip.UnsafeValue):
        sip.serialize(Request(method="INVITE", uri=uri))


def test_serialize_refuses_a_header_name_that_is_not_a_token():
    request = Request(method="OPTIONS", uri="sip:1001@pbx.test")
    request.headers.add("X\r\nCall-Info", "y")
    with pytest.raises(sip.UnsafeValue):
        sip.serialize(request)


def test_hostile_display_name_never_reaches_the_wire(kamailio, reactor, baresip_factory, sipp):
    """The exploit of issue 14 against real Kamailio, baresip and SIPp: the user's name
    carries a header; the SUBSCRIBE and the click-to-call INVITEs go out with the name
    cleaned and quoted, Kamailio accepts them (no 400) and the call works."""
    phone = baresip_factory("1001")
    far = sipp.uas("answer", ring_s=1, hangup_after_s=1)
    events = EventRecorder()
    config = AgentConfig(
        ws_url=kamailio.ws_url,
        domain=kamailio.domain,
        username="1001",
        password=LAB_USERS["1001"],
        display_name=HOSTILE_NAME,
        default_country="DE",
        auto_answer_header="Call-Info: <sip:x>;answer-after=0\r\nX-Evil: 1",
    )
    agent = UserAgent(config, reactor, events)
    frames = wire_recorder(agent)
    try:
        agent.login()
        events.wait_for("READY")
        agent.call(FAR_END)
        events.wait_for("INITIAL")
        phone.wait_event("CALL_INCOMING")
        phone.answer()
        events.wait_for("CONNECTED")
        events.wait_for("HANGUP", timeout=30)
        assert far.wait() == 0
    finally:
        agent.logout()
        time.sleep(0.2)
    assert events.names(call_only=True) == ["INITIAL", "ACCEPTED", "RINGING", "CONNECTED", "HANGUP"]
    assert "ERROR" not in events.names()
    requests = [f for f in frames if not f.startswith("SIP/2.0")]
    methods = {f.split(" ", 1)[0] for f in requests}
    assert {"SUBSCRIBE", "INVITE", "ACK"} <= methods
    for frame in requests:
        lines = header_lines(frame)
        assert not [line for line in lines if line.lower().startswith(("call-info", "x-evil"))]
        from_lines = [line for line in lines if line.startswith("From:")]
        assert len(from_lines) == 1
    quoted = '"Carol Call-Info: <sip:x>;answer-after=0" <sip:1001@pbx.test>;tag='
    subscribes = [f for f in requests if f.startswith("SUBSCRIBE")]
    assert all(f"From: {quoted}" in f for f in subscribes)
    assert "malformed" not in kamailio.log_text()
    assert "REPLY 400" not in kamailio.log_text()


def test_account_settings_that_break_a_uri_give_an_error(kamailio, reactor):
    for field, value in (
        ("username", "1001\r\nX: y"),
        ("auth_username", "1001>;x"),
        ("domain", "pbx.test\r\nX: y"),
    ):
        events = EventRecorder()
        options = {
            "ws_url": kamailio.ws_url,
            "domain": kamailio.domain,
            "username": "1001",
            "password": LAB_USERS["1001"],
            field: value,
        }
        agent = UserAgent(AgentConfig(**options), reactor, events)
        requests = kamailio.log_text().count("REQ SUBSCRIBE")
        agent.login()
        error = events.wait_for("ERROR")
        assert error["code"] == "account_unusable", field
        assert agent.state == "failed"
        time.sleep(0.5)
        assert kamailio.log_text().count("REQ SUBSCRIBE") == requests
