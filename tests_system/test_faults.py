"""A whole Odoo server against faults: SIGKILL mid-call, a lost database connection."""

from conftest import (
    DEMO_EXTENSION,
    DEMO_PASSWORD,
    answer_after_ringing,
    owner_pid,
    sip_sessions,
    sql,
    wait_until,
)

import lab

CALLER = "+4930555777"


def logged_calls(user_id):
    return sql(
        "SELECT sip_call_id, status, answer_date IS NOT NULL, end_date IS NOT NULL, hangup_cause "
        "FROM cti_call WHERE user_id = %s AND source = %s",
        (user_id, CALLER),
    )


def answered_call(user_id):
    rows = logged_calls(user_id)
    return rows if rows and rows[0][2] else None


def test_call_ended_while_the_service_was_dead_is_logged_once(
    tmp_path, kamailio, sipp, alice_id, servers
):
    sql("DELETE FROM cti_call WHERE user_id = %s AND source = %s", (alice_id, CALLER))
    with lab.Baresip(tmp_path, DEMO_EXTENSION, DEMO_PASSWORD, kamailio) as phone:
        phone.wait_registered()
        server = servers.start("first")
        wait_until(lambda: owner_pid(alice_id), 60, "the server to own alice")
        wait_until(lambda: len(sip_sessions(kamailio)) == 1, 30, "alice's SIP session")
        caller = sipp.uac(kamailio, DEMO_EXTENSION, caller=CALLER, talk_s=4)
        answer_after_ringing(phone)
        wait_until(lambda: answered_call(alice_id), 20, "the answered call in the log")
        servers.kill(server)
        assert caller.wait(30) == 0  # the call ends while no service watches

        servers.start("second")
        rows = wait_until(
            lambda: (rows := logged_calls(alice_id)) and rows[0][3] and rows,
            40,
            "the call to be finished in the log",
        )
    assert len(rows) == 1
    assert rows[0][1] == "answered"
    assert rows[0][4] == "ended while the CTI service was not running"


def test_call_going_on_across_a_restart_ends_normally(tmp_path, kamailio, sipp, alice_id, servers):
    sql("DELETE FROM cti_call WHERE user_id = %s AND source = %s", (alice_id, CALLER))
    with lab.Baresip(tmp_path, DEMO_EXTENSION, DEMO_PASSWORD, kamailio) as phone:
        phone.wait_registered()
        server = servers.start("first")
        wait_until(lambda: len(sip_sessions(kamailio)) == 1, 60, "alice's SIP session")
        caller = sipp.uac(kamailio, DEMO_EXTENSION, caller=CALLER, talk_s=15)
        answer_after_ringing(phone)
        wait_until(lambda: answered_call(alice_id), 20, "the answered call in the log")
        servers.kill(server)
        servers.start("second")
        wait_until(lambda: len(sip_sessions(kamailio)) == 1, 30, "alice's session back")
        assert caller.wait(40) == 0
        rows = wait_until(
            lambda: (rows := logged_calls(alice_id)) and rows[0][3] and rows,
            20,
            "the call to be finished in the log",
        )
    assert len(rows) == 1
    assert rows[0][1] == "answered"
    assert rows[0][4] != "ended while the CTI service was not running"


def test_lost_database_connection_drops_and_recovers(kamailio, alice_id, servers):
    servers.start("server")
    wait_until(lambda: owner_pid(alice_id), 60, "the server to own alice")
    before = wait_until(lambda: sip_sessions(kamailio), 30, "alice's SIP session")
    sql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE application_name LIKE 'odoo-cti-service/%%'"
    )
    after = wait_until(
        lambda: (now := sip_sessions(kamailio)) and set(now) != set(before) and now,
        30,
        "a new SIP session after the database came back",
    )
    assert len(after) == 1
    wait_until(lambda: owner_pid(alice_id), 10, "alice's lock taken again")
    assert "database connection lost" in servers.log("server")
