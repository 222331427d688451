"""A PBX restart with as many users as one service process holds in the lab: 50 agents on one
reactor against one Kamailio. Every agent must be READY again within 10 s of Kamailio
answering again (measured from the moment ``Kamailio.restart()`` has seen it answer OPTIONS
and accept WebSocket connections), whether it was down for an instant or for several seconds
(long enough for every agent's backoff to reach its cap)."""

import time

import pytest
from recorder import EventRecorder

import lab
from cti_engine import AgentConfig, UserAgent

USERS = {str(2000 + n): f"secret{2000 + n}" for n in range(1, 51)}
READY_AGAIN_WITHIN = 10.0


@pytest.fixture
def kamailio_50(lab_dir, sipp):
    lab.require_binary("kamailio")
    pbx = lab.Kamailio(lab_dir, users=USERS, domain="pbx.test", gateway=sipp.gateway)
    pbx.start()
    yield pbx
    pbx.stop()


def wait_all(recorders, name, count, timeout):
    """Wait until every recorder saw ``name`` ``count`` times; returns when each did."""
    deadline = time.monotonic() + timeout
    done = {}
    while len(done) < len(recorders):
        for user, events in recorders.items():
            if user not in done and events.names().count(name) >= count:
                done[user] = time.monotonic()
        if time.monotonic() > deadline:
            missing = sorted(set(recorders) - set(done))
            raise AssertionError(f"{len(missing)} agents without {name} #{count}: {missing[:10]}")
        time.sleep(0.02)
    return done


@pytest.mark.parametrize("down_s", [0, 6])
def test_fifty_agents_ready_again_within_10s_of_restart(kamailio_50, reactor, down_s):
    recorders = {user: EventRecorder() for user in USERS}
    agents = [
        UserAgent(
            AgentConfig(
                ws_url=kamailio_50.ws_url,
                domain=kamailio_50.domain,
                username=user,
                password=password,
                display_name=f"User {user}",
            ),
            reactor,
            recorders[user],
        )
        for user, password in USERS.items()
    ]
    try:
        started = time.monotonic()
        for agent in agents:
            agent.login()
        first = wait_all(recorders, "READY", 1, timeout=30)
        print(f"\n50 agents READY after login in {max(first.values()) - started:.2f} s")

        kamailio_50.restart(down_s=down_s)
        answering = time.monotonic()
        again = wait_all(recorders, "READY", 2, timeout=READY_AGAIN_WITHIN + 20)
        slowest = max(again.values()) - answering
        print(f"50 agents READY again {slowest:.2f} s after Kamailio answered again")
        assert slowest < READY_AGAIN_WITHIN
        for user, events in recorders.items():
            assert events.names() == ["LOGGED_IN", "READY", "ERROR", "READY"], user
            assert events.events[2]["code"] == "connection_lost"
        assert all(agent.is_connected() for agent in agents)
        # one live subscription per agent at the new instance: 50 WebSocket connections
        connections = kamailio_50.kamcmd("ws.dump").count("sub-protocol: sip")
        assert connections == len(USERS)
    finally:
        for agent in agents:
            agent.logout()
        time.sleep(0.3)
