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
    assert error["code"] == "credentials_refused" and error["params"]["user"] == "1001"
    subscribes = kamailio.log_text().count("SUBSCRIBE")
    time.sleep(3)
    assert events.names() == ["ERROR"]
    assert kamailio.log_text().count("SUBSCRIBE") == subscribes
    assert agent.state == "failed"


@pytest.mark.parametrize(
    "typed", ["abc", "1002\r\nX: y", "sip:1002@pbx.test", "", "4" * 40, "10\x0002"]
)
def test_invalid_destination_sends_nothing(agent_factory, kamailio, typed):
    agent, events = ready_agent(agent_factory)
    invites = kamailio.log_text().count("INVITE")
    agent.call(typed)
    error = events.wait_for("ERROR")
    assert error["code"].startswith("number_")
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
    # The far end got the CANCEL (its scenario ends only then), not its own timeout.
    assert far.wait(timeout=10) == 0

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
    assert info["code"] == "cannot_answer"
    agent.answer("no-such-call")
    error = events.wait_for("ERROR")
    assert error["code"] == "no_such_call" and error["params"]["call"] == "no-such-call"
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
