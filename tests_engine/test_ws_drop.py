"""The agent's WebSocket drops in the middle of a call while Kamailio stays up.

Two ways to drop it: Kamailio closes it (``ws.close`` RPC: a Close frame, then the TCP
connection goes), or the agent's own socket dies under it (shut down from our side, as when
a NAT or a proxy between Odoo and the PBX forgets the connection).
"""

import socket
import time

import pytest
from conftest import ready_agent

import lab

CALLER = "+4930123456"
FAR_END = "+4989555000"


def drop(how, agent, kamailio):
    if how == "pbx":
        connections = kamailio.ws_connections()
        assert len(connections) == 1, connections  # the agent's (the phones use UDP)
        kamailio.ws_close(next(iter(connections)))
    else:
        agent.transport._ws.sock.shutdown(socket.SHUT_RDWR)


def wait_reconnected(events, kamailio, before):
    events.wait_for("READY", count=2, timeout=15)
    lab.wait_until(
        lambda: (now := kamailio.ws_connections()) and set(now) != set(before),
        5,
        what="a new WebSocket connection",
    )


@pytest.mark.parametrize("how", ["pbx", "agent"])
def test_observed_call_keeps_its_final_event(how, agent_factory, baresip_factory, sipp, kamailio):
    """Kamailio still knows the call: the new subscription's first document lists it as
    confirmed, which adds nothing, and its end is reported once, as an ordinary hangup."""
    phone = baresip_factory("1001")
    agent, events = ready_agent(agent_factory)
    caller = sipp.uac(kamailio, "1001", caller=CALLER, talk_s=6)
    phone.wait_event("CALL_INCOMING")
    ringing = events.wait_for("RINGING")
    time.sleep(0.5)
    phone.answer()
    events.wait_for("CONNECTED")
    before = kamailio.ws_connections()
    drop(how, agent, kamailio)
    wait_reconnected(events, kamailio, before)
    assert events.names(call_only=True) == ["RINGING", "CONNECTED"]  # nothing replayed
    hangup = events.wait_for("HANGUP", timeout=15)
    assert caller.wait() == 0
    assert hangup["call"]["id"] == ringing["call"]["id"]
    assert hangup["call"]["cause"] in ("hangup", "remote hangup", "local hangup")
    time.sleep(0.5)
    assert events.names() == [
        "LOGGED_IN",
        "READY",
        "RINGING",
        "CONNECTED",
        "ERROR",
        "READY",
        "HANGUP",
    ]
    assert events.events[4]["code"] == "connection_lost"
    assert agent.tracker.active_calls == []


@pytest.mark.parametrize("how", ["pbx", "agent"])
def test_click_to_call_is_hung_up_honestly(how, agent_factory, baresip_factory, sipp, kamailio):
    """The agent joins the click-to-call's two dialogs and loses them with the connection:
    the user gets HANGUP 'connection to the PBX lost' at once, both legs get BYE once the
    agent is connected again, and neither leg ever shows up as a call of its own."""
    phone = baresip_factory("1001", auto_answer=True)
    far = sipp.uas("answer", ring_s=0.5)  # talks until it gets a BYE
    agent, events = ready_agent(agent_factory)
    agent.call(FAR_END)
    connected = events.wait_for("CONNECTED")
    phone.wait_event("CALL_ESTABLISHED")
    time.sleep(0.5)  # let the ACKs reach both ends
    before = kamailio.ws_connections()
    drop(how, agent, kamailio)
    hangup = events.wait_for("HANGUP", timeout=10)
    assert hangup["call"]["id"] == connected["call"]["id"]
    assert hangup["call"]["cause"] == "connection to the PBX lost"
    wait_reconnected(events, kamailio, before)
    assert far.wait(timeout=20) == 0  # the far end got a BYE and answered it
    phone.wait_event("CALL_CLOSED", timeout=10)
    time.sleep(1)
    assert events.names(call_only=True) == ["INITIAL", "ACCEPTED", "RINGING", "CONNECTED", "HANGUP"]
    assert agent.tracker.active_calls == []
    assert agent.active_call_ids() == set()
