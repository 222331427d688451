"""A whole Odoo server through a brief database outage that spares its lock connection
(issue 14): the SIP sessions and the call in progress go on, the events wait in memory, and
the call is logged afterwards with the times it really had."""

import time

import psycopg2
from conftest import (
    DATABASE,
    DEMO_EXTENSION,
    DEMO_PASSWORD,
    answer_after_ringing,
    owner_pid,
    sip_sessions,
    sql,
    wait_until,
)
from psycopg2 import sql as pgsql

import lab

CALLER = "+4930555888"
TALK_S = 5
OUTAGE_S = 8


def admin(statement, *params):
    """On the postgres database: the outage bars every new connection to ours."""
    cnx = psycopg2.connect(dbname="postgres", host="127.0.0.1")
    cnx.autocommit = True
    try:
        with cnx.cursor() as cr:
            cr.execute(statement, params)
    finally:
        cnx.close()


def outage(allowed):
    admin(
        pgsql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS {}").format(
            pgsql.Identifier(DATABASE), pgsql.SQL("true" if allowed else "false")
        )
    )
    if not allowed:
        # Odoo's pooled connections go; the service's lock connection stays.
        admin(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
            "AND pid <> pg_backend_pid() AND application_name NOT LIKE 'odoo-cti-service/%%'",
            DATABASE,
        )


def logged_call(user_id):
    rows = sql(
        "SELECT status, duration, end_date IS NOT NULL, hangup_cause FROM cti_call "
        "WHERE user_id = %s AND source = %s",
        (user_id, CALLER),
    )
    return rows[0] if rows else None


def test_brief_database_outage_keeps_sessions_and_calls(
    tmp_path, kamailio, sipp, alice_id, servers
):
    sql("DELETE FROM cti_call WHERE user_id = %s AND source = %s", (alice_id, CALLER))
    with lab.Baresip(tmp_path, DEMO_EXTENSION, DEMO_PASSWORD, kamailio) as phone:
        phone.wait_registered()
        servers.start("server")
        wait_until(lambda: owner_pid(alice_id), 60, "the server to own alice")
        before = wait_until(lambda: sip_sessions(kamailio), 30, "alice's SIP session")
        caller = sipp.uac(kamailio, DEMO_EXTENSION, caller=CALLER, talk_s=TALK_S)
        answer_after_ringing(phone)
        wait_until(lambda: (row := logged_call(alice_id)) and row[0], 20, "the call logged")
        outage(allowed=False)
        try:
            assert caller.wait(30) == 0  # the call ends during the outage
            time.sleep(max(0, OUTAGE_S - TALK_S))
            assert set(sip_sessions(kamailio)) == set(before), "the SIP session went on"
        finally:
            outage(allowed=True)
        row = wait_until(
            lambda: (row := logged_call(alice_id)) and row[2] and row, 40, "the call finished"
        )
    assert set(sip_sessions(kamailio)) == set(before)
    assert row[0] == "answered"
    assert row[3] != "ended while the CTI service was not running"
    # Its real length, not the length plus the outage.
    assert abs(row[1] - TALK_S) <= 1.5, row
    log = servers.log("server")
    assert "database unavailable" in log
    assert "dropping" not in log
