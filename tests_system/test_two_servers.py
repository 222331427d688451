"""Two Odoo servers on one database share the CTI users: exactly one SIP session per user.

One server runs threaded, the other prefork (its CTI worker is a dedicated process), so
both hosting modes are exercised.
"""

import time

from conftest import owner_pid, session_state, sip_sessions, wait_until

import lab


def test_one_session_per_user_and_takeover(kamailio, alice_id, servers):
    threaded = servers.start("threaded")
    prefork = servers.start("prefork", "--workers=2", f"--gevent-port={lab.free_port('tcp')}")

    first_owner = wait_until(lambda: owner_pid(alice_id), 60, "a server to own alice")
    wait_until(lambda: len(sip_sessions(kamailio)) == 1, 30, "alice's SIP session")
    time.sleep(5)  # several reconcile rounds of both servers
    assert len(sip_sessions(kamailio)) == 1
    assert owner_pid(alice_id) == first_owner

    owner = threaded if first_owner in servers.pids(threaded) else prefork
    other = prefork if owner is threaded else threaded
    killed_at = time.monotonic()
    servers.kill(owner)
    new_owner = wait_until(
        lambda: (pid := owner_pid(alice_id)) and pid != first_owner and pid,
        30,
        "the other server to take alice over",
    )
    remaining = 30 - (time.monotonic() - killed_at)
    wait_until(lambda: len(sip_sessions(kamailio)) == 1, remaining, "alice's session back")
    assert new_owner in servers.pids(other)
    assert time.monotonic() - killed_at < 30
    wait_until(lambda: session_state(alice_id) == "ready", 10, "alice ready again")
