"""Hang up and transfer of an answered inbound call on a PBX that is only a SIP proxy
(Kamailio): the agent takes the caller's side of the call over with INVITE/Replaces
(``cti_engine/remote.py``); the caller is SIPp ``uac_accepts_replaces.xml``."""

import time

from conftest import ready_agent

CALLER = "+4930123456"
FAR_END = "+4989555000"


def _answered_call(agent_factory, baresip_factory, sipp, kamailio):
    phone = baresip_factory("1001")
    agent, events = ready_agent(agent_factory)
    caller = sipp.uac(kamailio, "1001", caller=CALLER, accepts_replaces=True, timeout_s=40)
    phone.wait_event("CALL_INCOMING")
    assert events.wait_for("RINGING")["call"]["controls"] == []
    phone.answer()
    connected = events.wait_for("CONNECTED")
    # the tags and the caller's Contact are known: both ways of taking the call over
    assert connected["call"]["controls"] == ["terminate", "transfer"]
    time.sleep(0.3)
    return phone, agent, events, caller, connected["call"]["id"]


def test_hang_up_answered_inbound_call_by_taking_the_caller_over(
    agent_factory, baresip_factory, sipp, kamailio
):
    """baresip refuses to hand the call over (420); the caller's side accepts, hangs the
    phone up, and the agent hangs the caller up."""
    phone, agent, events, caller, call_id = _answered_call(
        agent_factory, baresip_factory, sipp, kamailio
    )
    agent.terminate(call_id)
    hangup = events.wait_for("HANGUP", timeout=15)
    assert hangup["call"]["id"] == call_id
    assert hangup["call"]["cause"] == "terminated"
    phone.wait_event("CALL_CLOSED")
    assert caller.wait(timeout=15) == 0, caller.output()
    log = kamailio.log_text()
    assert "REQ INVITE sip:1001@pbx.test from ws:" in log  # the phone first (420)
    assert f"INVITE to contact address sip:{CALLER}@127.0.0.1:" in log  # then the caller
    trace = caller.messages()
    assert "Replaces: 1-" in trace and "Require: replaces" in trace
    time.sleep(1)  # the agent's own dialogs never show up as calls
    assert events.names(call_only=True) == ["RINGING", "CONNECTED", "HANGUP"]
    assert "INFO" not in events.names() and "ERROR" not in events.names()


def test_transfer_answered_inbound_call_to_a_colleague(
    agent_factory, baresip_factory, sipp, kamailio
):
    """1002 is called first (no offer), its offer goes to the caller in the INVITE with
    Replaces, the caller's answer to 1002 in the ACK; the user's phone gets the caller's
    BYE; the agent then joins caller and colleague until one hangs up."""
    colleague = baresip_factory("1002", auto_answer=True)
    phone, agent, events, caller, call_id = _answered_call(
        agent_factory, baresip_factory, sipp, kamailio
    )
    agent.transfer(call_id, "1002")
    hangup = events.wait_for("HANGUP", timeout=15)
    assert hangup["call"]["id"] == call_id
    assert hangup["call"]["cause"] == "transferred"
    assert hangup["call"]["transferredTo"] == "1002"
    phone.wait_event("CALL_CLOSED")
    colleague.wait_event("CALL_ESTABLISHED")
    trace = caller.messages()
    replaces = [m for m in trace.split("\n\n") if "Replaces:" in m]
    assert replaces and "m=audio" in trace.split("Replaces:", 1)[1].split("SIP/2.0 200", 1)[0]
    time.sleep(1)
    assert "CALL_CLOSED" not in colleague.event_types()
    colleague.hangup()  # the agent passes the colleague's BYE on to the caller
    assert caller.wait(timeout=15) == 0, caller.output()
    assert events.names(call_only=True) == ["RINGING", "CONNECTED", "HANGUP"]
    assert "INFO" not in events.names() and "ERROR" not in events.names()


def test_transfer_answered_inbound_call_to_an_external_number(
    agent_factory, baresip_factory, sipp, kamailio
):
    far = sipp.uas("answer", ring_s=0.5, hangup_after_s=2)
    phone, agent, events, caller, call_id = _answered_call(
        agent_factory, baresip_factory, sipp, kamailio
    )
    agent.transfer(call_id, FAR_END)
    hangup = events.wait_for("HANGUP", timeout=15)
    assert hangup["call"]["cause"] == "transferred"
    assert hangup["call"]["transferredTo"] == FAR_END
    phone.wait_event("CALL_CLOSED")
    assert far.wait(timeout=15) == 0, far.output()  # answered, then hung up after 2 s
    assert caller.wait(timeout=15) == 0, caller.output()  # and the caller got that BYE
    assert "INVITE to PSTN gateway" in kamailio.log_text()
    assert events.names(call_only=True) == ["RINGING", "CONNECTED", "HANGUP"]


def test_transfer_answered_inbound_call_to_a_bad_target_sends_nothing(
    agent_factory, baresip_factory, sipp, kamailio
):
    phone, agent, events, caller, call_id = _answered_call(
        agent_factory, baresip_factory, sipp, kamailio
    )
    invites = kamailio.log_text().count("REQ INVITE")
    agent.transfer(call_id, "sip:evil@example.com")
    assert events.wait_for("ERROR")["code"] == "number_not_a_number"
    time.sleep(0.5)
    assert kamailio.log_text().count("REQ INVITE") == invites
    assert "Replaces:" not in caller.messages()
    assert events.names(call_only=True) == ["RINGING", "CONNECTED"]
    agent.terminate(call_id)  # the call was left as it was: it can still be hung up
    assert events.wait_for("HANGUP", timeout=15)["call"]["cause"] == "terminated"
    assert caller.wait(timeout=15) == 0, caller.output()


def test_transfer_to_a_busy_target_leaves_the_call_alone(
    agent_factory, baresip_factory, sipp, kamailio
):
    """The target is called before the caller is taken over: busy, the call goes on."""
    far = sipp.uas("busy")
    phone, agent, events, caller, call_id = _answered_call(
        agent_factory, baresip_factory, sipp, kamailio
    )
    agent.transfer(call_id, FAR_END)
    error = events.wait_for("ERROR", timeout=15)
    assert error["code"] == "transfer_failed" and error["params"]["cause"] == "busy"
    far.wait(timeout=15)
    time.sleep(0.5)
    assert "Replaces:" not in caller.messages()
    assert "CALL_CLOSED" not in phone.event_types()
    assert events.names(call_only=True) == ["RINGING", "CONNECTED"]
    agent.terminate(call_id)
    assert events.wait_for("HANGUP", timeout=15)["call"]["cause"] == "terminated"
    assert caller.wait(timeout=15) == 0, caller.output()
