"""Controlling calls the user did not place, on Asterisk, through its Manager Interface.

Real Asterisk 22, real desk phones (baresip), SIPp as the PSTN; the agent watches over SIP
and the Asterisk driver acts over AMI. Each test checks what the user sees (events and
their ``controls``) and what happened on the PBX (who is bridged with whom, who got BYE).
"""

import time

import pytest
from conftest import ready_agent

from lab import wait_until

CALLER = "+4930123456"
FAR_END = "+4989555000"

pytestmark = pytest.mark.pbx("asterisk")


def ami_ready(driver, timeout=10):
    wait_until(lambda: driver.client.ready, timeout, what="the Manager Interface login")
    return driver


def bridged(asterisk, *prefixes):
    """Whether channels starting with each of ``prefixes`` share one bridge on Asterisk."""
    bridges = {}
    for line in asterisk.cli("core show channels concise").splitlines():
        fields = line.split("!")
        if len(fields) > 12 and fields[12]:
            bridges.setdefault(fields[12], []).append(fields[0])
    return any(
        all(any(name.startswith(prefix) for name in names) for prefix in prefixes)
        for names in bridges.values()
    )


def answered_on_the_phone(events, phone, sipp, asterisk, **caller_options):
    """SIPp calls 1001, the desk phone answers: returns (the caller run, the CONNECTED)."""
    caller = sipp.uac(asterisk, "1001", caller=CALLER, **caller_options)
    phone.wait_event("CALL_INCOMING")
    ringing = events.wait_for("RINGING")
    assert ringing["call"]["controls"] == ["terminate"]  # declining; nothing to answer with
    time.sleep(0.3)
    phone.answer()
    connected = events.wait_for("CONNECTED")
    wait_until(lambda: bridged(asterisk, "PJSIP/1001-", "PJSIP/gateway-"), 10, what="bridge")
    return caller, connected


@pytest.fixture
def controlled(agent_factory, baresip_factory, asterisk_driver):
    """(desk phone 1001, agent of 1001 with the Asterisk driver, its events)."""
    phone = baresip_factory("1001")
    driver = ami_ready(asterisk_driver())
    agent, events = ready_agent(agent_factory, driver=driver)
    return phone, agent, events


def test_blind_transfer_to_a_colleague(controlled, baresip_factory, sipp, asterisk):
    phone, agent, events = controlled
    colleague = baresip_factory("1002", auto_answer=True)
    caller, connected = answered_on_the_phone(events, phone, sipp, asterisk, until_bye=True)
    assert connected["call"]["controls"] == ["terminate", "hold", "transfer", "consult"]
    call_id = connected["call"]["id"]
    agent.transfer(call_id, "1002")
    colleague.wait_event("CALL_ESTABLISHED", timeout=15)
    hangup = events.wait_for("HANGUP", timeout=15)
    assert hangup["call"]["id"] == call_id
    assert hangup["call"]["cause"] == "transferred"
    assert hangup["call"]["transferredTo"] == "1002"
    assert hangup["call"]["controls"] == []
    phone.wait_event("CALL_CLOSED", timeout=10)
    # The caller talks with the colleague's phone now, not with anybody else.
    wait_until(lambda: bridged(asterisk, "PJSIP/1002-", "PJSIP/gateway-"), 10, what="bridge")
    colleague.hangup()
    assert caller.wait(timeout=20) == 0, caller.output()  # the caller got the colleague's BYE
    assert events.names(call_only=True) == ["RINGING", "CONNECTED", "HANGUP"]
    assert "INFO" not in events.names() and "ERROR" not in events.names()


def test_blind_transfer_to_an_external_number(controlled, sipp, asterisk):
    phone, agent, events = controlled
    far = sipp.uas("answer", ring_s=0.5, hangup_after_s=2)
    caller, connected = answered_on_the_phone(events, phone, sipp, asterisk, until_bye=True)
    agent.transfer(connected["call"]["id"], "089 555000")  # as people write it
    hangup = events.wait_for("HANGUP", timeout=15)
    assert hangup["call"]["cause"] == "transferred"
    assert hangup["call"]["transferredTo"] == FAR_END
    phone.wait_event("CALL_CLOSED", timeout=10)
    assert far.wait(timeout=30) == 0, far.output()  # the far end answered, then hung up
    assert caller.wait(timeout=20) == 0, caller.output()  # and the caller got its BYE


def test_hold_resume_and_hang_up_from_odoo(controlled, sipp, asterisk):
    phone, agent, events = controlled
    caller, connected = answered_on_the_phone(events, phone, sipp, asterisk, until_bye=True)
    call_id = connected["call"]["id"]
    agent.hold(call_id)
    held = events.wait_for("ON_HOLD")
    assert held["call"]["controls"] == ["terminate", "hold", "transfer"]  # resume, too
    assert not bridged(asterisk, "PJSIP/1001-", "PJSIP/gateway-")
    agent.hold(call_id)
    assert events.wait_for("INFO")["code"] == "already_on_hold"
    agent.resume(call_id)
    events.wait_for("CONNECTED", 2)
    wait_until(lambda: bridged(asterisk, "PJSIP/1001-", "PJSIP/gateway-"), 10, what="bridge")
    time.sleep(1)  # the line's next dialog-info must not say otherwise
    agent.terminate(call_id)
    hangup = events.wait_for("HANGUP", timeout=15)
    assert hangup["call"]["cause"] == "terminated"
    phone.wait_event("CALL_CLOSED", timeout=10)
    assert caller.wait(timeout=20) == 0, caller.output()  # the caller got a BYE
    assert events.names(call_only=True) == [
        "RINGING",
        "CONNECTED",
        "ON_HOLD",
        "CONNECTED",
        "HANGUP",
    ]


def test_hang_up_a_call_held_from_odoo(controlled, sipp, asterisk):
    phone, agent, events = controlled
    caller, connected = answered_on_the_phone(events, phone, sipp, asterisk, until_bye=True)
    agent.hold(connected["call"]["id"])
    events.wait_for("ON_HOLD")
    agent.terminate(connected["call"]["id"])
    assert events.wait_for("HANGUP", timeout=15)["call"]["cause"] == "terminated"
    phone.wait_event("CALL_CLOSED", timeout=10)
    assert caller.wait(timeout=20) == 0, caller.output()


def test_decline_a_ringing_call(controlled, sipp, asterisk):
    phone, agent, events = controlled
    caller = sipp.uac(asterisk, "1001", caller=CALLER, cancel_after_s=20)
    phone.wait_event("CALL_INCOMING")
    ringing = events.wait_for("RINGING")
    started = time.monotonic()
    agent.terminate(ringing["call"]["id"])
    cancel = events.wait_for("CANCEL", timeout=10)
    assert time.monotonic() - started < 5  # declined, not left to ring out
    assert cancel["call"]["cause"] == "rejected"
    phone.wait_event("CALL_CLOSED", timeout=10)
    caller.wait(timeout=30)
    assert "Hangup" in asterisk.log_text() or "hangup" in asterisk.log_text()
    assert events.names(call_only=True) == ["RINGING", "CANCEL"]


def test_the_desk_phones_own_hold_key(controlled, sipp, asterisk):
    phone, _agent, events = controlled
    caller, _connected = answered_on_the_phone(events, phone, sipp, asterisk, talk_s=6)
    phone.hold()
    held = events.wait_for("ON_HOLD", timeout=10)
    assert held["call"]["controls"] == ["terminate", "transfer"]  # the phone resumes it
    phone.resume()
    events.wait_for("CONNECTED", 2, timeout=10)
    events.wait_for("HANGUP", timeout=20)
    assert caller.wait(timeout=20) == 0, caller.output()


def test_bad_transfer_targets_and_calls_change_nothing(controlled, sipp, asterisk):
    phone, agent, events = controlled
    caller, connected = answered_on_the_phone(events, phone, sipp, asterisk, talk_s=4)
    call_id = connected["call"]["id"]
    for target in ("sip:1002@evil.example", "1002\r\nAction: Hangup", "abc", "1" * 40):
        agent.transfer(call_id, target)
    agent.transfer("not-a-call-of-this-user", "1002")
    agent.hold("another-users-call")
    time.sleep(1)
    errors = [e for e in events.events if e["name"] == "ERROR"]
    assert len(errors) == 6, errors
    assert bridged(asterisk, "PJSIP/1001-", "PJSIP/gateway-")  # the call goes on as it was
    hangup = events.wait_for("HANGUP", timeout=20)
    assert hangup["call"]["cause"] == "hangup"
    assert caller.wait(timeout=20) == 0
    # A control for the call that has just ended: INFO, and nothing else happens.
    agent.terminate(call_id)
    assert events.wait_for("INFO")["code"] == "call_ended"
    assert events.names(call_only=True) == ["RINGING", "CONNECTED", "HANGUP"]


def test_wrong_secret_is_an_error_and_calls_are_still_watched(
    agent_factory, baresip_factory, asterisk_driver, sipp, asterisk
):
    phone = baresip_factory("1001")
    driver = asterisk_driver(secret="not-the-secret")
    wait_until(lambda: driver.client.state == "refused", 10, what="the login to be refused")
    agent, events = ready_agent(agent_factory, driver=driver)
    error = events.wait_for("ERROR")
    assert error["code"] == "manager_refused"
    assert error["params"]["user"] == driver.client.username
    caller = sipp.uac(asterisk, "1001", caller=CALLER, talk_s=1)
    phone.wait_event("CALL_INCOMING")
    ringing = events.wait_for("RINGING")
    assert ringing["call"]["controls"] == []  # no Answer, no Hang up that could only fail
    phone.answer()
    connected = events.wait_for("CONNECTED")
    assert connected["call"]["controls"] == []
    agent.transfer(connected["call"]["id"], "1002")
    assert events.wait_for("INFO")["code"] == "not_available"
    events.wait_for("HANGUP", timeout=20)
    assert caller.wait(timeout=20) == 0


def test_manager_interface_restart(agent_factory, baresip_factory, asterisk_driver, asterisk):
    """Asterisk restarts: the driver says so once, reconnects with backoff, says it is
    back; the agent reconnects over SIP by itself."""
    baresip_factory("1001")
    driver = ami_ready(asterisk_driver())
    _agent, events = ready_agent(agent_factory, driver=driver)
    asterisk.restart()
    error = events.wait_for("ERROR", timeout=20)
    assert error["code"] in ("manager_down", "connection_lost", "pbx_unreachable")
    back = events.wait_for("INFO", timeout=40)
    assert back["code"] == "manager_back"
    events.wait_for("READY", 2, timeout=40)
    assert driver.client.ready


def ask_first(controlled, baresip_factory, sipp, asterisk):
    """An answered inbound call, and an ask-first transfer to 1002 that 1002 answers:
    returns (the caller run, the colleague's phone, the call's id, the second line's id)."""
    phone, agent, events = controlled
    colleague = baresip_factory("1002", auto_answer=True)
    caller, connected = answered_on_the_phone(events, phone, sipp, asterisk, until_bye=True)
    call_id = connected["call"]["id"]
    assert connected["call"]["controls"] == ["terminate", "hold", "transfer", "consult"]
    agent.consult(call_id, "1002")
    held = events.wait_for("ON_HOLD")
    assert held["call"]["id"] == call_id
    assert held["call"]["controls"] == []  # until the second line is completed or cancelled
    line = events.wait_for("RINGING", 2)["call"]
    assert line["id"] != call_id
    assert (line["direction"], line["destination"]) == ("OUTBOUND", "1002")
    assert line["controls"] == ["terminate"]  # cancel; nobody to hand over to yet
    colleague.wait_event("CALL_ESTABLISHED", timeout=15)
    talking = events.wait_for("CONNECTED", 2, timeout=15)
    assert talking["call"]["id"] == line["id"]
    assert talking["call"]["controls"] == ["terminate", "complete"]
    return caller, colleague, call_id, line["id"]


def test_ask_first_then_complete(controlled, baresip_factory, sipp, asterisk):
    _phone, agent, events = controlled
    caller, colleague, call_id, line_id = ask_first(controlled, baresip_factory, sipp, asterisk)
    agent.complete(line_id)
    first = events.wait_for("HANGUP", timeout=15)
    second = events.wait_for("HANGUP", 2, timeout=15)
    ended = {e["call"]["id"]: e["call"] for e in (first, second)}
    assert ended[call_id]["cause"] == "transferred"
    assert ended[call_id]["transferredTo"] == "1002"
    assert ended[line_id]["cause"] == "transferred"
    wait_until(lambda: bridged(asterisk, "PJSIP/1002-", "PJSIP/gateway-"), 10, what="bridge")
    colleague.hangup()
    assert caller.wait(timeout=20) == 0, caller.output()


def test_ask_first_then_cancel(controlled, baresip_factory, sipp, asterisk):
    phone, agent, events = controlled
    caller, colleague, call_id, line_id = ask_first(controlled, baresip_factory, sipp, asterisk)
    agent.terminate(line_id)  # back to the caller
    cancelled = events.wait_for("HANGUP", timeout=15)
    assert (cancelled["call"]["id"], cancelled["call"]["cause"]) == (line_id, "cancelled")
    back = events.wait_for("CONNECTED", 3, timeout=15)
    assert back["call"]["id"] == call_id
    assert "transfer" in back["call"]["controls"]
    colleague.wait_event("CALL_CLOSED", timeout=10)
    wait_until(lambda: bridged(asterisk, "PJSIP/1001-", "PJSIP/gateway-"), 10, what="bridge")
    agent.terminate(call_id)
    assert events.wait_for("HANGUP", 2, timeout=15)["call"]["cause"] == "terminated"
    phone.wait_event("CALL_CLOSED", timeout=10)
    assert caller.wait(timeout=20) == 0, caller.output()


def test_the_number_dialled_on_the_desk_phone(controlled, sipp, asterisk):
    """Asterisk's dialog-info names nobody for a call dialled on the phone; the Manager
    Interface's DialBegin does, and the call is reported (and so logged) with it."""
    phone, _agent, events = controlled
    far = sipp.uas("answer", ring_s=1, hangup_after_s=2)
    phone.dial(asterisk.aor(FAR_END))
    connected = events.wait_for("CONNECTED", timeout=15)
    hangup = events.wait_for("HANGUP", timeout=15)
    assert far.wait() == 0, far.output()
    for event in (connected, hangup):
        assert event["call"]["direction"] == "OUTBOUND"
        assert event["call"]["destination"] == FAR_END
    assert "hold" in connected["call"]["controls"]  # its channels are known by that number
