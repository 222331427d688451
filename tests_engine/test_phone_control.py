"""Answer and hold by the phone's remote-control keys (``Event: talk`` / ``Event: hold``).

Real Kamailio carries the agent's OPTIONS and NOTIFYs to the phone registered for the user:
a SIPp desk phone that takes the keys as BroadSoft-style phones do
(``uas_remote_control.xml``), the same phone with remote control switched off, and
baresip, which takes none.
"""

import time

import pytest
from conftest import ready_agent

from lab import wait_until

CALLER = "+4930123456"

pytestmark = pytest.mark.pbx("kamailio")


def probed_agent(agent_factory, user):
    """An agent READY whose phone has answered the agent's OPTIONS."""
    agent, events = ready_agent(agent_factory, user)
    wait_until(lambda: agent.phone_control.probed, 5, what="the phone to answer the OPTIONS")
    return agent, events


def test_answer_hold_and_resume_by_the_phones_keys(agent_factory, sipp, kamailio):
    phone = sipp.remote_control_phone(kamailio, "1003", "secret1003")
    agent, events = probed_agent(agent_factory, "1003")
    caller = sipp.uac(kamailio, "1003", caller=CALLER, talk_s=4)
    ringing = events.wait_for("RINGING")
    assert ringing["call"]["controls"] == ["answer"]
    call_id = ringing["call"]["id"]
    time.sleep(1)
    assert events.names(call_only=True) == ["RINGING"]  # this phone never answers by itself

    agent.answer(call_id)
    connected = events.wait_for("CONNECTED")
    assert connected["call"]["id"] == call_id
    assert "hold" in connected["call"]["controls"]
    agent.hold(call_id)
    held = events.wait_for("ON_HOLD")
    assert held["call"]["id"] == call_id
    assert "hold" in held["call"]["controls"]  # the button now says Resume
    agent.resume(call_id)
    assert events.wait_for("CONNECTED", count=2)["call"]["id"] == call_id

    hangup = events.wait_for("HANGUP", timeout=15)  # the caller hangs up after 4 s
    assert hangup["call"]["id"] == call_id
    assert caller.wait(timeout=15) == 0, caller.output()
    assert events.names(call_only=True) == [
        "RINGING",
        "CONNECTED",
        "ON_HOLD",
        "CONNECTED",
        "HANGUP",
    ]
    assert "INFO" not in events.names() and "ERROR" not in events.names()
    keys = [
        line.split(":", 1)[1].strip()
        for line in phone.messages().splitlines()
        if line.startswith("Event:")
    ]
    assert keys == ["talk", "hold", "talk"]  # answer, hold, resume; in that order


def test_a_phone_that_refuses_the_keys_is_told_once_and_offered_them_no_more(
    agent_factory, sipp, kamailio
):
    phone = sipp.remote_control_phone(kamailio, "1003", "secret1003", refuse_keys=True)
    agent, events = probed_agent(agent_factory, "1003")
    caller = sipp.uac(kamailio, "1003", caller=CALLER, cancel_after_s=3)
    ringing = events.wait_for("RINGING")
    assert ringing["call"]["controls"] == ["answer"]  # it lists the keys in Allow-Events
    agent.answer(ringing["call"]["id"])
    info = events.wait_for("INFO")
    assert info["code"] == "phone_key_refused"
    assert info["params"]["status"] == "403 Remote Control Disabled"
    assert events.wait_for("CANCEL", timeout=15)["call"]["cause"] == "missed"
    caller.wait(timeout=15)

    second = sipp.uac(kamailio, "1003", caller=CALLER, cancel_after_s=1)
    assert events.wait_for("RINGING", count=2)["call"]["controls"] == []
    events.wait_for("CANCEL", count=2, timeout=15)
    second.wait(timeout=15)
    assert events.names().count("INFO") == 1
    assert "Event: talk" in phone.messages()


def test_baresip_takes_no_keys_and_is_offered_no_answer(
    agent_factory, baresip_factory, sipp, kamailio
):
    phone = baresip_factory("1001")
    agent, events = probed_agent(agent_factory, "1001")
    assert "talk" not in agent.phone_control.accepted
    caller = sipp.uac(kamailio, "1001", caller=CALLER, cancel_after_s=2)
    phone.wait_event("CALL_INCOMING")
    ringing = events.wait_for("RINGING")
    assert ringing["call"]["controls"] == []
    notifies = kamailio.log_text().count("REQ NOTIFY sip:1001")
    agent.answer(ringing["call"]["id"])
    assert events.wait_for("INFO")["code"] == "cannot_answer"
    events.wait_for("CANCEL", timeout=15)
    caller.wait(timeout=15)
    assert kamailio.log_text().count("REQ NOTIFY sip:1001") == notifies  # nothing was sent
