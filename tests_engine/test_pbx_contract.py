"""The reference call flows on every lab PBX: Kamailio (per-call dialog events) and Asterisk
(dialog events built from the extension's device state).

Each scenario runs on both PBXs with real desk phones (baresip) and SIPp as the PSTN, and
asserts the exact events and call objects a user's Odoo would receive. Where the PBX cannot
say something over SIP (Asterisk does not name the number a desk phone dialled), the test
says so.
"""

import time

import pytest
from conftest import ready_agent

CALLER = "+4930123456"
FAR_END = "+4989555000"

pytestmark = pytest.mark.pbx("kamailio", "asterisk")


def call_ids(events):
    return {e["call"]["id"] for e in events.call_events()}


def answered_inbound(events, phone, sipp, pbx, caller, talk_s=1.0):
    """``caller`` calls 1001, the phone answers half a second into the ringing, the caller
    hangs up after ``talk_s``: returns the RINGING and HANGUP events."""
    rung = events.names(call_only=True).count("RINGING")
    ended = events.names(call_only=True).count("HANGUP")
    since = len(phone.event_types())
    run = sipp.uac(pbx, "1001", caller=caller, talk_s=talk_s)
    phone.wait_event("CALL_INCOMING", since=since)
    ringing = events.wait_for("RINGING", rung + 1)
    time.sleep(0.5)
    phone.answer()
    hangup = events.wait_for("HANGUP", ended + 1, timeout=30)
    assert run.wait() == 0
    phone.wait_event("CALL_CLOSED", since=since)
    return ringing, hangup


def test_login_ready_logout(agent_factory, pbx):
    agent, events = agent_factory()
    agent.login()
    events.wait_for("READY")
    agent.logout()
    events.wait_for("LOGGED_OUT")
    assert events.names() == ["LOGGED_IN", "READY", "LOGGED_OUT"]
    time.sleep(1)
    # The subscription ended before the connection closed: the PBX had someone to tell.
    complaints = [
        line
        for line in pbx.log_text().splitlines()
        if ("WARNING" in line or "ERROR" in line) and ("ubscri" in line or "NOTIFY" in line)
    ]
    assert complaints == []


def test_inbound_answered(agent_factory, baresip_factory, sipp, pbx):
    phone = baresip_factory("1001")
    _agent, events = ready_agent(agent_factory)
    ringing, hangup = answered_inbound(events, phone, sipp, pbx, CALLER, talk_s=2)
    assert events.names(call_only=True) == ["RINGING", "CONNECTED", "HANGUP"]
    assert call_ids(events) == {ringing["call"]["id"]}
    for event in events.call_events():
        assert event["call"]["direction"] == "INBOUND"
        assert event["call"]["source"] == CALLER
        assert event["call"]["destination"] == "1001"
    assert hangup["call"]["cause"] == "hangup"


def test_inbound_missed_then_answered(agent_factory, baresip_factory, sipp, pbx):
    """The second call after a quiet line is reported too, with its own id (Asterisk's
    first document says 'terminated': idle, not a call)."""
    phone = baresip_factory("1001")
    _agent, events = ready_agent(agent_factory)
    run = sipp.uac(pbx, "1001", caller=CALLER, cancel_after_s=2)
    missed = events.wait_for("CANCEL", timeout=30)
    run.wait()
    phone.wait_event("CALL_CLOSED", timeout=20)
    assert missed["call"]["cause"] == "missed"
    assert missed["call"]["source"] == CALLER
    ringing, _hangup = answered_inbound(events, phone, sipp, pbx, "+4940555111")
    assert events.names(call_only=True) == ["RINGING", "CANCEL", "RINGING", "CONNECTED", "HANGUP"]
    assert ringing["call"]["id"] != missed["call"]["id"]
    assert ringing["call"]["source"] == "+4940555111"


def test_three_inbound_calls_each_its_own(agent_factory, baresip_factory, sipp, pbx):
    phone = baresip_factory("1001")
    _agent, events = ready_agent(agent_factory)
    callers = ["+4930111111", "+4930222222", "+4930333333"]
    for caller in callers:
        answered_inbound(events, phone, sipp, pbx, caller)
    assert events.names(call_only=True) == ["RINGING", "CONNECTED", "HANGUP"] * 3
    finals = [e for e in events.call_events() if e["name"] == "HANGUP"]
    assert [e["call"]["source"] for e in finals] == callers
    assert len({e["call"]["id"] for e in finals}) == 3


def test_colleague_calling(agent_factory, baresip_factory, pbx):
    phone = baresip_factory("1001")
    colleague = baresip_factory("1002")
    _agent, events = ready_agent(agent_factory)
    colleague.dial(pbx.aor("1001"))
    phone.wait_event("CALL_INCOMING")
    ringing = events.wait_for("RINGING")
    time.sleep(0.5)
    phone.answer()
    events.wait_for("CONNECTED")
    time.sleep(0.5)
    colleague.hangup()
    events.wait_for("HANGUP", timeout=30)
    assert events.names(call_only=True) == ["RINGING", "CONNECTED", "HANGUP"]
    assert ringing["call"]["source"] == "1002"
    assert ringing["call"]["direction"] == "INBOUND"


def test_click_to_call_answered(agent_factory, baresip_factory, sipp, pbx):
    """The far end rings 2 s: longer than the 0.5 s after which Asterisk retransmits the
    phone's 200, which must not end the call."""
    phone = baresip_factory("1001")
    far = sipp.uas("answer", ring_s=2, hangup_after_s=2)
    agent, events = ready_agent(agent_factory)
    agent.call("+49 89 555000")  # as written on a record: the agent normalises it
    phone.wait_event("CALL_INCOMING")
    phone.answer()
    hangup = events.wait_for("HANGUP", timeout=30)
    assert far.wait() == 0
    time.sleep(1)  # the PBX's reports of the phone's own leg must not add a call
    assert events.names(call_only=True) == [
        "INITIAL",
        "ACCEPTED",
        "RINGING",
        "CONNECTED",
        "HANGUP",
    ]
    assert len(call_ids(events)) == 1
    assert hangup["call"]["direction"] == "OUTBOUND"
    assert hangup["call"]["source"] == "1001"
    assert hangup["call"]["destination"] == FAR_END
    assert hangup["call"]["cause"] == "remote hangup"


@pytest.mark.parametrize(("behaviour", "cause"), [("busy", "busy"), ("noanswer", "no answer")])
def test_click_to_call_not_connected(agent_factory, baresip_factory, sipp, behaviour, cause):
    phone = baresip_factory("1001", auto_answer=True)
    far = sipp.uas(behaviour)
    agent, events = ready_agent(agent_factory, ring_timeout=3)
    agent.call(FAR_END)
    final = events.wait_for("CANCEL", timeout=30)
    # busy: the far end's 486 was acknowledged; no answer: the CANCEL reached it
    assert far.wait(timeout=10) == 0
    phone.wait_event("CALL_CLOSED")
    time.sleep(1)
    assert events.names(call_only=True) in (
        ["INITIAL", "ACCEPTED", "CANCEL"],
        ["INITIAL", "ACCEPTED", "RINGING", "CANCEL"],
    )
    assert final["call"]["cause"] == cause
    assert len(call_ids(events)) == 1


def test_click_to_call_hold_resume_transfer(agent_factory, baresip_factory, sipp):
    phone = baresip_factory("1001", auto_answer=True)
    colleague = baresip_factory("1002", auto_answer=True)
    far = sipp.uas("reinvite", ring_s=0.5)
    agent, events = ready_agent(agent_factory)
    agent.call(FAR_END)
    call_id = events.wait_for("CONNECTED")["call"]["id"]
    agent.hold(call_id)
    events.wait_for("ON_HOLD")
    agent.resume(call_id)
    events.wait_for("CONNECTED", 2)
    agent.transfer(call_id, "1002")
    colleague.wait_event("CALL_ESTABLISHED")
    hangup = events.wait_for("HANGUP", timeout=30)
    assert hangup["call"]["cause"] == "transferred"
    assert hangup["call"]["transferredTo"] == "1002"
    phone.wait_event("CALL_CLOSED")
    time.sleep(1)
    assert events.names(call_only=True) == [
        "INITIAL",
        "ACCEPTED",
        "RINGING",
        "CONNECTED",
        "ON_HOLD",
        "CONNECTED",
        "HANGUP",
    ]
    assert call_ids(events) == {call_id}
    colleague.hangup()
    far.wait()


def test_call_dialled_on_the_desk_phone(agent_factory, baresip_factory, sipp, pbx):
    phone = baresip_factory("1001")
    far = sipp.uas("answer", ring_s=0.5, hangup_after_s=2)
    _agent, events = ready_agent(agent_factory)
    phone.dial(pbx.aor(FAR_END))
    hangup = events.wait_for("HANGUP", timeout=30)
    assert far.wait() == 0
    assert events.names(call_only=True) == ["RINGING", "CONNECTED", "HANGUP"]
    call = hangup["call"]
    assert call["direction"] == "OUTBOUND"
    assert call["source"] == "1001"
    # Asterisk's dialog events name nobody while a call is up (README, PBX setup).
    assert call["destination"] == ("" if pbx.name == "asterisk" else FAR_END)


def test_second_call_ringing_during_a_first(agent_factory, baresip_factory, sipp, pbx):
    phone = baresip_factory("1001")
    _agent, events = ready_agent(agent_factory)
    first = sipp.uac(pbx, "1001", caller=CALLER, talk_s=6)
    phone.wait_event("CALL_INCOMING")
    events.wait_for("RINGING")
    time.sleep(0.5)
    phone.answer()
    events.wait_for("CONNECTED")
    second = sipp.uac(pbx, "1001", caller="+4940555111", cancel_after_s=1.5)
    missed = events.wait_for("CANCEL", timeout=30)
    second.wait()
    hangup = events.wait_for("HANGUP", timeout=30)
    assert first.wait() == 0
    assert events.names(call_only=True) == ["RINGING", "CONNECTED", "RINGING", "CANCEL", "HANGUP"]
    assert missed["call"]["source"] == "+4940555111"
    assert missed["call"]["cause"] == "missed"
    assert hangup["call"]["source"] == CALLER
    assert missed["call"]["id"] != hangup["call"]["id"]


def test_pbx_restart_then_an_inbound_call(agent_factory, baresip_factory, sipp, pbx):
    phone = baresip_factory("1001")
    _agent, events = ready_agent(agent_factory)
    pbx.restart()
    phone.restart()  # the phone registers again with the new PBX
    phone.wait_registered()
    events.wait_for("READY", 2, timeout=20)
    ringing, _hangup = answered_inbound(events, phone, sipp, pbx, CALLER)
    assert ringing["call"]["source"] == CALLER
    assert events.names(call_only=True) == ["RINGING", "CONNECTED", "HANGUP"]
