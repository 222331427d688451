"""RFC 4475 torture messages (ours, see ``torture.py``) against the agent's inbound path:
``cti_engine.sip.parse`` directly, then every message through a real WebSocket into the
agent's frame handler (``lab/hostile.py``)."""

import logging
import time

import pytest
import torture
from recorder import EventRecorder
from test_hostile import RINGING_DIALOG, document

from cti_engine import AgentConfig, UserAgent, sip
from lab.hostile import HostilePbx

# RFC 4475 calls these invalid; the agent accepts them on purpose. Their flaw is in a header
# value that sipmessage reads lazily and that the agent never interprets beyond a tag or a
# string it echoes back (From, To, Contact of a request not in its dialogs, Date, Via
# parameters), so refusing them would buy nothing and could drop a PBX's oddly formatted but
# usable NOTIFY.
ACCEPTED_THOUGH_INVALID = {
    "badinv01": "empty ';;' parameters in Via, From and Contact: ignored",
    "quotbal": "unterminated quote in To's display name: To is only echoed back",
    "baddate": "Date is never read",
    "regbadct": "a REGISTER's Contact: the agent answers REGISTER with 405 without reading it",
    "badaspec": "spaces inside <> in To: echoed back, never parsed as a URI",
    "baddn": "commas in an unquoted display name: display names are not read from SIP",
}
REJECTED = sorted(set(torture.INVALID) - set(ACCEPTED_THOUGH_INVALID))


@pytest.mark.parametrize("name", sorted(torture.VALID))
def test_valid_torture_message_is_accepted(name):
    message = sip.parse(torture.VALID[name])
    if isinstance(message, sip.Request):
        assert message.cseq.method == message.method
    assert message.headers.get("Call-ID")
    assert message.headers.get("Via")


def test_valid_torture_messages_parse_to_the_right_fields():
    wsinv = sip.parse(torture.VALID["wsinv"])
    assert wsinv.method == "INVITE"
    assert wsinv.cseq.sequence == 10 and wsinv.cseq.method == "INVITE"
    assert sip.header_param(wsinv.headers["From"], "tag") == "55zz9"  # folded, spaced
    assert wsinv.headers["Call-ID"] == "wsinv.q7e2@198.51.100.7"
    assert wsinv.body == torture.SDP.encode()  # "Content-Length   :" honoured
    assert len(wsinv.headers.getlist("Via")) >= 2

    intmeth = sip.parse(torture.VALID["intmeth"])
    assert intmeth.method == torture.METHOD
    assert intmeth.cseq.sequence == 139122385

    esc01 = sip.parse(torture.VALID["esc01"]).uri
    assert esc01.user == "sips:agent@example.org" and esc01.host == "example.net"  # unescaped
    assert sip.parse(torture.VALID["esc02"]).method == "RE%47IST%45R"  # not REGISTER
    assert sip.parse(torture.VALID["semiuri"]).uri.user == "agent7;par=u@example.org"
    lwsdisp = sip.parse(torture.VALID["lwsdisp"])
    assert sip.header_param(lwsdisp.headers["From"], "tag") == "lw7"
    longreq = sip.parse(torture.VALID["longreq"])
    assert len(longreq.headers.getlist("Via")) == 41
    dblreq = sip.parse(torture.VALID["dblreq"])
    assert dblreq.method == "REGISTER" and dblreq.body == b""  # the trailing INVITE is cut
    assert len(sip.parse(torture.VALID["transports"]).headers.getlist("Via")) == 5
    assert sip.parse(torture.VALID["mpart01"]).body == torture.MULTIPART
    unreason = sip.parse(torture.VALID["unreason"])
    assert unreason.code == 200 and "\u2713" in unreason.phrase
    noreason = sip.parse(torture.VALID["noreason"])
    assert noreason.code == 100 and noreason.phrase == ""


@pytest.mark.parametrize("name", REJECTED)
def test_invalid_torture_message_is_rejected(name):
    with pytest.raises(sip.MalformedMessage):
        sip.parse(torture.INVALID[name])


@pytest.mark.parametrize("name", sorted(ACCEPTED_THOUGH_INVALID))
def test_harmless_invalid_torture_message_is_accepted(name):
    sip.parse(torture.INVALID[name])


@pytest.mark.parametrize("name", sorted(torture.APPLICATION))
def test_application_layer_torture_message_parses(name):
    """Well-formed SIP whose refusal is an application decision (see the frame test)."""
    sip.parse(torture.APPLICATION[name])


def test_torture_messages_through_the_agent(reactor, caplog):
    """Every message into the agent's frame handler over a real WebSocket: one warning per
    rejected message and none for the others, the out-of-dialog requests answered as the
    agent answers anything it does not serve, the connection never dropped, and a valid
    NOTIFY afterwards still reported."""
    pbx = HostilePbx(users={"1001": "secret1001"}).start()
    events = EventRecorder()
    agent = UserAgent(
        AgentConfig(ws_url=pbx.ws_url, domain=pbx.domain, username="1001", password="secret1001"),
        reactor,
        events,
    )
    try:
        agent.login()
        events.wait_for("READY")
        pbx.wait_for(lambda: pbx.notify_cseq >= 1, what="initial NOTIFY")
        caplog.set_level(logging.WARNING, logger="cti_engine")
        caplog.clear()
        everything = {**torture.VALID, **torture.INVALID, **torture.APPLICATION}
        for data in everything.values():
            pbx.send_text(data)
        pbx.send_notify(document(2, RINGING_DIALOG))
        ringing = events.wait_for("RINGING", timeout=10)
        assert ringing["call"]["source"] == "+4930123456"
        time.sleep(0.3)

        warnings = [r for r in caplog.records if r.name.startswith("cti_engine")]
        assert len(warnings) == len(REJECTED), [r.getMessage()[:100] for r in warnings]
        assert all("malformed message" in r.getMessage() for r in warnings)
        assert not any(r.exc_info for r in warnings)

        def answer_to(call_id):
            return [m.code for m in pbx.received if m.code and m.header("Call-ID") == call_id]

        assert answer_to("torture.bext01@example.org") == [200]  # OPTIONS: Require ignored
        assert answer_to("zeromf.z7@198.51.100.7") == [200]  # not forwarded: no loop
        assert answer_to("torture.cparam01@example.org") == [405]  # not a registrar
        assert answer_to("torture.esc01@example.org") == [481]  # INVITE in no dialog
        assert answer_to("torture.mpart01@example.org") == [405]
        assert answer_to("multi01.m7@198.51.100.7") == [481]
        assert answer_to(torture.VALID["intmeth"].split(b"Call-ID: ")[1].split(b"\r\n")[0]
                         .decode()) == [405]  # fmt: skip
        for name in REJECTED:  # nothing answered: a message it cannot read is dropped
            call_id = torture.INVALID[name].split(b"Call-ID: ")[1].split(b"\r\n")[0]
            assert answer_to(call_id.decode()) == [], name
        assert pbx.connections == 1
        assert agent.is_connected()
        assert events.names() == ["LOGGED_IN", "READY", "RINGING"]
    finally:
        agent.logout()
        time.sleep(0.2)
        pbx.stop()
