"""The user agent against real Kamailio, baresip and SIPp: the reference event flows."""

import time

import pytest
from conftest import ready_agent

CALLER = "+4930123456"
FAR_END = "+4989555000"


def test_login_logout(agent_factory):
    agent, events = agent_factory()
    agent.login()
    events.wait_for("READY")
    assert events.names() == ["LOGGED_IN", "READY"]
    assert agent.is_connected()
    agent.logout()
    events.wait_for("LOGGED_OUT")
    assert events.names() == ["LOGGED_IN", "READY", "LOGGED_OUT"]
    assert not agent.is_connected()


def test_wrong_password_is_one_error_and_no_retry_loop(agent_factory, kamailio):
    agent, events = agent_factory(password="wrong")
    agent.login()
    error = events.wait_for("ERROR")
    assert "1001" in error["message"] and "password" in error["message"]
    subscribes = kamailio.log_text().count("SUBSCRIBE")
    time.sleep(3)
    assert events.names() == ["ERROR"]
    assert kamailio.log_text().count("SUBSCRIBE") == subscribes
    assert agent.state == "failed"


def test_inbound_answered(agent_factory, baresip_factory, sipp):
    phone = baresip_factory("1001")
    agent, events = ready_agent(agent_factory)
    caller = sipp.uac_call = sipp.uac(phone.kamailio, "1001", caller=CALLER, talk_s=3)
    phone.wait_event("CALL_INCOMING")
    ringing = events.wait_for("RINGING")
    time.sleep(2)
    phone.answer()
    events.wait_for("CONNECTED")
    hangup = events.wait_for("HANGUP", timeout=30)
    assert caller.wait() == 0
    assert events.names(call_only=True) == ["RINGING", "CONNECTED", "HANGUP"]
    call = ringing["call"]
    assert call["direction"] == "INBOUND"
    assert call["source"] == CALLER
    assert call["destination"] == "1001"
    assert {e["call"]["id"] for e in events.call_events()} == {call["id"]}
    # Kamailio's dialog documents do not say which side hung up.
    assert hangup["call"]["cause"] == "hangup"
    assert hangup["call"]["status"] == "HANGUP"


def test_inbound_missed(agent_factory, baresip_factory, sipp):
    phone = baresip_factory("1001")
    agent, events = ready_agent(agent_factory)
    caller = sipp.uac(phone.kamailio, "1001", caller=CALLER, cancel_after_s=2)
    events.wait_for("RINGING")
    final = events.wait_for("CANCEL", timeout=30)
    caller.wait()
    assert events.names(call_only=True) == ["RINGING", "CANCEL"]
    assert final["call"]["cause"] == "missed"
    assert final["call"]["source"] == CALLER


def test_click_to_call_answered(agent_factory, baresip_factory, sipp):
    phone = baresip_factory("1001")
    far = sipp.uas("answer", ring_s=1, hangup_after_s=2)
    agent, events = ready_agent(agent_factory)
    agent.call("+49 89 555000")
    initial = events.wait_for("INITIAL")
    phone.wait_event("CALL_INCOMING")
    phone.answer()
    events.wait_for("CONNECTED")
    hangup = events.wait_for("HANGUP", timeout=30)
    assert far.wait() == 0
    assert events.names(call_only=True) == [
        "INITIAL",
        "ACCEPTED",
        "RINGING",
        "CONNECTED",
        "HANGUP",
    ]
    call = initial["call"]
    assert call["direction"] == "OUTBOUND"
    assert call["destination"] == FAR_END
    assert call["source"] == "1001"
    assert {e["call"]["id"] for e in events.call_events()} == {call["id"]}
    assert hangup["call"]["cause"] == "remote hangup"
    time.sleep(1)  # the PBX's dialog documents about our own legs must not add a call
    assert len(events.call_events()) == 5


@pytest.mark.parametrize(("behaviour", "cause"), [("busy", "busy"), ("noanswer", "no answer")])
def test_click_to_call_not_connected(agent_factory, baresip_factory, sipp, behaviour, cause):
    phone = baresip_factory("1001", auto_answer=True)
    far = sipp.uas(behaviour)
    agent, events = ready_agent(agent_factory, ring_timeout=3)
    agent.call(FAR_END)
    final = events.wait_for("CANCEL", timeout=30)
    far.wait()
    assert events.names(call_only=True) == ["INITIAL", "ACCEPTED", "CANCEL"] or events.names(
        call_only=True
    ) == ["INITIAL", "ACCEPTED", "RINGING", "CANCEL"]
    assert final["call"]["cause"] == cause
    phone.wait_event("CALL_CLOSED")


@pytest.mark.parametrize(
    "typed", ["abc", "1002\r\nX: y", "sip:1002@pbx.test", "", "4" * 40, "10\x0002"]
)
def test_invalid_destination_sends_nothing(agent_factory, kamailio, typed):
    agent, events = ready_agent(agent_factory)
    invites = kamailio.log_text().count("INVITE")
    agent.call(typed)
    error = events.wait_for("ERROR")
    assert error["message"]
    time.sleep(0.5)
    assert kamailio.log_text().count("INVITE") == invites
    assert events.names(call_only=True) == []


def test_terminate_click_to_call_while_ringing_and_connected(agent_factory, baresip_factory, sipp):
    baresip_factory("1001", auto_answer=True)
    agent, events = ready_agent(agent_factory)
    far = sipp.uas("noanswer")
    agent.call(FAR_END)
    ringing = events.wait_for("RINGING")
    agent.terminate(ringing["call"]["id"])
    cancel = events.wait_for("CANCEL")
    assert cancel["call"]["cause"] == "terminated"
    far.wait()

    events.clear()
    far = sipp.uas("answer", ring_s=0.5)
    agent.call(FAR_END)
    connected = events.wait_for("CONNECTED")
    agent.terminate(connected["call"]["id"])
    hangup = events.wait_for("HANGUP")
    assert hangup["call"]["cause"] == "terminated"
    assert far.wait() == 0


def test_answer_inbound_call_reports_info(agent_factory, baresip_factory, sipp):
    phone = baresip_factory("1001")
    agent, events = ready_agent(agent_factory)
    caller = sipp.uac(phone.kamailio, "1001", caller=CALLER, cancel_after_s=3)
    ringing = events.wait_for("RINGING")
    agent.answer(ringing["call"]["id"])
    info = events.wait_for("INFO")
    assert "phone" in info["message"]
    agent.answer("no-such-call")
    error = events.wait_for("ERROR")
    assert "no-such-call" in error["message"]
    caller.wait()


def test_forked_inbound_call_is_one_call(agent_factory, baresip_factory, sipp, kamailio):
    """Two phones registered for 1001: the PBX forks the INVITE and may report early
    dialogs for both branches; the user sees one call, answered on one phone."""
    desk = baresip_factory("1001")
    other = baresip_factory("1001")
    agent, events = ready_agent(agent_factory)
    caller = sipp.uac(kamailio, "1001", caller=CALLER, talk_s=2)
    desk.wait_event("CALL_INCOMING")
    other.wait_event("CALL_INCOMING")
    ringing = events.wait_for("RINGING")
    time.sleep(1)
    desk.answer()
    events.wait_for("CONNECTED")
    other.wait_event("CALL_CLOSED")  # the PBX cancelled the other branch
    events.wait_for("HANGUP", timeout=30)
    assert caller.wait() == 0
    time.sleep(1)
    assert events.names(call_only=True) == ["RINGING", "CONNECTED", "HANGUP"]
    assert {e["call"]["id"] for e in events.call_events()} == {ringing["call"]["id"]}


def test_forked_inbound_call_missed_on_both_phones(agent_factory, baresip_factory, sipp, kamailio):
    baresip_factory("1001")
    baresip_factory("1001")
    agent, events = ready_agent(agent_factory)
    caller = sipp.uac(kamailio, "1001", caller=CALLER, cancel_after_s=2)
    events.wait_for("RINGING")
    final = events.wait_for("CANCEL", timeout=30)
    caller.wait()
    time.sleep(1)
    assert events.names(call_only=True) == ["RINGING", "CANCEL"]
    assert final["call"]["cause"] == "missed"
