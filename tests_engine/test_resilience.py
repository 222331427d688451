"""The agent across a PBX restart: reconnection, resubscription and honest final events."""

import time

from conftest import assert_inbound_call_reported, ready_agent

CALLER = "+4930123456"
FAR_END = "+4989555000"


def test_restart_then_next_inbound_call_is_reported(agent_factory, baresip_factory, sipp, kamailio):
    phone = baresip_factory("1001")
    agent, events = ready_agent(agent_factory)
    subscribes = kamailio.log_text().count("REQ SUBSCRIBE")
    states = []
    recorder = agent.on_event
    agent.on_event = lambda payload: (states.append(agent.state), recorder(payload))
    kamailio.restart()
    events.wait_for("READY", count=2, timeout=40)
    assert events.names() == ["LOGGED_IN", "READY", "ERROR", "READY"]
    # whoever receives the ERROR sees the agent reconnecting, not still ready
    assert states == ["reconnecting", "ready"]
    assert events.events[2]["code"] == "connection_lost"
    # challenged again and answered again on the new instance
    log = kamailio.log_text()
    assert "REQ SUBSCRIBE" in log and subscribes
    assert agent.is_connected()

    phone.restart()  # the restarted PBX forgot the phone's registration
    assert_inbound_call_reported(events, phone, sipp, kamailio, CALLER)


def test_observed_call_across_restart_ends_with_honest_cause(
    agent_factory, baresip_factory, sipp, kamailio
):
    """Kamailio keeps dialogs in memory: after a restart, the first NOTIFY of the new
    subscription has no body and no document ever mentions the call again."""
    phone = baresip_factory("1001")
    agent, events = ready_agent(agent_factory)
    caller = sipp.uac(kamailio, "1001", caller=CALLER, talk_s=6)
    phone.wait_event("CALL_INCOMING")
    events.wait_for("RINGING")
    phone.answer()
    connected = events.wait_for("CONNECTED")
    kamailio.restart()
    events.wait_for("READY", count=2, timeout=40)
    hangup = events.wait_for("HANGUP", timeout=5)
    assert hangup["call"]["id"] == connected["call"]["id"]
    assert hangup["call"]["cause"] == "no longer reported by the PBX"
    assert events.names(call_only=True) == ["RINGING", "CONNECTED", "HANGUP"]
    assert caller.wait() == 0  # the call itself went on: only its observation ended
    assert agent.tracker.active_calls == []


def test_click_to_call_across_restart_is_hung_up(agent_factory, baresip_factory, sipp, kamailio):
    """The agent joins the two dialogs of a click-to-call: when its connection drops, it
    can neither hear a BYE nor pass one on, so it reports HANGUP at once and hangs both legs
    up as soon as it is connected again."""
    phone = baresip_factory("1001", auto_answer=True)
    far = sipp.uas("answer", ring_s=0.5)  # talks until it gets a BYE
    agent, events = ready_agent(agent_factory)
    agent.call(FAR_END)
    connected = events.wait_for("CONNECTED")
    phone.wait_event("CALL_ESTABLISHED")
    time.sleep(0.5)  # let the ACKs reach both ends before the PBX goes down
    kamailio.restart()
    hangup = events.wait_for("HANGUP", timeout=10)
    assert hangup["call"]["id"] == connected["call"]["id"]
    assert hangup["call"]["cause"] == "connection to the PBX lost"
    events.wait_for("READY", count=2, timeout=40)
    assert far.wait(timeout=20) == 0  # the far end got a BYE and answered it
    phone.wait_event("CALL_CLOSED", timeout=10)
    assert events.names(call_only=True) == [
        "INITIAL",
        "ACCEPTED",
        "RINGING",
        "CONNECTED",
        "HANGUP",
    ]
    time.sleep(1)
    assert len(events.call_events()) == 5
