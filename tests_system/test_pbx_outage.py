"""A whole Odoo server against PBX outages: the PBX down when Odoo starts, the PBX restarting
under calls in progress."""

import contextlib
import re
import time

import pytest
from conftest import (
    DEMO_EXTENSION,
    DEMO_PASSWORD,
    answer_after_ringing,
    session_state,
    sip_sessions,
    sql,
    wait_until,
)

import lab

CALLER = "+4930555888"
BOB_EXTENSION, BOB_PASSWORD = "1002", "sip1002"  # bob in demo/cti_demo.xml
UNSEEN_CAUSE = "ended while the CTI service was not running"  # service/sweep.py
NOT_REPORTED = "no longer reported by the PBX"  # cti_engine/tracker.py


@pytest.fixture
def kamailio(tmp_path, sipp):
    """The lab PBX with both demo users, alice and bob."""
    users = {DEMO_EXTENSION: DEMO_PASSWORD, BOB_EXTENSION: BOB_PASSWORD}
    pbx = lab.Kamailio(tmp_path, users=users, gateway=sipp.gateway)
    pbx.start()
    yield pbx
    pbx.stop()


@pytest.fixture
def bob_id(alice_id):
    """bob's user id, logged in to the CTI (alice_id already pointed the demo PBX at the lab)."""
    rows = sql("SELECT user_id FROM cti_account WHERE username = %s", (BOB_EXTENSION,))
    assert rows, "the demo account of bob (1002) is missing: demo data not loaded?"
    user_id = rows[0][0]
    sql("UPDATE cti_account SET session_wanted = true WHERE user_id = %s", (user_id,))
    yield user_id
    sql("UPDATE cti_account SET session_wanted = false WHERE user_id = %s", (user_id,))


def account(user_id):
    state, message = sql(
        "SELECT session_state, session_message FROM cti_account WHERE user_id = %s", (user_id,)
    )[0]
    return state, message or ""


def forget_session(user_id):
    """What an earlier server left in the account: not this test's evidence."""
    sql(
        "UPDATE cti_account SET session_state = 'logged_out', session_message = NULL "
        "WHERE user_id = %s",
        (user_id,),
    )


def test_pbx_down_when_odoo_starts(kamailio, alice_id, servers):
    """Kamailio is stopped before the server starts: alice's account says so and keeps
    retrying with backoff (a handful of attempts, not a storm, no crash loop); when Kamailio
    starts, she is READY by herself."""
    forget_session(alice_id)
    kamailio.stop()
    server = servers.start("server")
    wait_until(
        lambda: account(alice_id)[1].startswith("Cannot reach the PBX"),
        60,
        "alice's account to report the PBX unreachable",
    )
    state, message = account(alice_id)
    assert state == "reconnecting", (state, message)
    assert kamailio.ws_url in message and message.endswith("retrying.")
    # why, worded by Odoo around the system's own words: "(cannot connect: [Errno 111] ...)"
    assert "(cannot connect: " in message and "refused" in message.lower(), message

    # Count the reconnection attempts on the PBX's own port for a while.
    watch_s = 12.0
    with lab.ConnectionCounter(kamailio.ws_port) as dead_pbx:
        time.sleep(watch_s)
    attempts = len(dead_pbx.times)
    print(f"\nreconnection attempts in {watch_s:.0f} s: {attempts}")
    assert 1 <= attempts <= 10, dead_pbx.times  # backoff capped at 8 s: ~3 expected
    assert server.poll() is None
    assert account(alice_id)[0] == "reconnecting"

    kamailio.start()
    answering = time.monotonic()
    wait_until(lambda: session_state(alice_id) == "ready", 20, "alice READY again")
    ready_after = time.monotonic() - answering
    print(f"alice READY {ready_after:.1f} s after Kamailio answered")
    assert ready_after < 10 + 1  # the engine's promise, plus the writer's transaction
    assert len(sip_sessions(kamailio)) == 1
    log = servers.log("server")
    assert "Traceback" not in log
    # one ERROR for the whole outage, nothing logged per attempt
    assert len(re.findall(r" (?:WARNING|ERROR) .*cti", log)) <= 2, log[-3000:]
    assert server.poll() is None


def logged_calls(user_id):
    return sql(
        "SELECT sip_call_id, status, end_date IS NOT NULL, hangup_cause, "
        "answer_date IS NOT NULL "
        "FROM cti_call WHERE user_id = %s AND source = %s",
        (user_id, CALLER),
    )


def answered_call(user_id):
    rows = logged_calls(user_id)
    return rows if rows and rows[0][4] else None


def finished_calls(user_id):
    rows = logged_calls(user_id)
    return rows if rows and all(row[2] for row in rows) else None


def test_calls_in_progress_when_the_pbx_restarts_are_logged_once(
    tmp_path, kamailio, sipp, alice_id, bob_id, servers
):
    """The engine's path, for two users of one server: the agents stay up, their new
    subscriptions no longer report the calls (Kamailio forgot its dialogs), each agent emits
    HANGUP and each call row is finished once, the host's sweep after READY adding nothing."""
    users = {alice_id: DEMO_EXTENSION, bob_id: BOB_EXTENSION}
    for user_id in users:
        sql("DELETE FROM cti_call WHERE user_id = %s AND source = %s", (user_id, CALLER))
        forget_session(user_id)
    with contextlib.ExitStack() as stack:
        phones = {}
        for user_id, extension in users.items():
            password = kamailio.users[extension]
            phones[user_id] = stack.enter_context(
                lab.Baresip(tmp_path, extension, password, kamailio)
            )
            phones[user_id].wait_registered()
        servers.start("server")
        for user_id in users:
            wait_until(lambda u=user_id: session_state(u) == "ready", 60, f"user {user_id} READY")
        callers = []
        for user_id, extension in users.items():
            callers.append(sipp.uac(kamailio, extension, caller=CALLER, talk_s=10))
            answer_after_ringing(phones[user_id])
        for user_id in users:
            wait_until(lambda u=user_id: answered_call(u), 20, "the answered call in the log")
        kamailio.restart()
        rows = {
            user_id: wait_until(lambda u=user_id: finished_calls(u), 20, "the call finished")
            for user_id in users
        }
        for caller in callers:
            assert caller.wait(30) == 0  # the call itself went on through the restart
        time.sleep(4)  # the host's sweep after READY runs too: it must not log them again
        for user_id in users:
            assert session_state(user_id) == "ready"
            assert logged_calls(user_id) == rows[user_id]
    for user_id in users:
        assert len(rows[user_id]) == 1
        assert rows[user_id][0][1] == "answered"
        assert rows[user_id][0][3] == NOT_REPORTED


def test_call_the_restarted_pbx_forgot_while_odoo_was_down_is_logged_once(
    tmp_path, kamailio, sipp, alice_id, servers
):
    """The host's path: the server dies during the call, Kamailio restarts meanwhile and
    forgets the call, the new server's agent never hears of it; the host's sweep finishes
    the row it finds open, once."""
    sql("DELETE FROM cti_call WHERE user_id = %s AND source = %s", (alice_id, CALLER))
    forget_session(alice_id)
    with lab.Baresip(tmp_path, DEMO_EXTENSION, DEMO_PASSWORD, kamailio) as phone:
        phone.wait_registered()
        server = servers.start("first")
        wait_until(lambda: session_state(alice_id) == "ready", 60, "alice READY")
        caller = sipp.uac(kamailio, DEMO_EXTENSION, caller=CALLER, talk_s=20)
        answer_after_ringing(phone)
        wait_until(lambda: answered_call(alice_id), 20, "the answered call in the log")
        servers.kill(server)
        kamailio.restart()
        servers.start("second")
        rows = wait_until(lambda: finished_calls(alice_id), 60, "the call finished in the log")
        time.sleep(2)
        assert logged_calls(alice_id) == rows
        assert caller.proc is None or caller.proc.poll() is None  # still talking: unseen
        caller.stop()
    assert len(rows) == 1
    assert rows[0][1] == "answered"
    assert rows[0][3] == UNSEEN_CAUSE
