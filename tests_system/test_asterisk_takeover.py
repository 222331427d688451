"""Asterisk gives a call no identity of its own (its dialog events describe the extension):
a call in progress when the server holding the user's session dies goes on, in the log,
under the id it had, and is logged once, by the server that takes the user over."""

import time

import pytest
from conftest import (
    DEMO_EXTENSION,
    DEMO_PASSWORD,
    answer_after_ringing,
    owner_pid,
    sql,
    wait_until,
)

import lab

CALLER = "+4930555999"


@pytest.fixture
def lab_pbx(tmp_path, sipp):
    if not lab.find_asterisk():
        pytest.skip(f"ASTERISK TESTS SKIPPED: {lab.ASTERISK_HINT}")
    pbx = lab.Asterisk(tmp_path, users={DEMO_EXTENSION: DEMO_PASSWORD}, gateway=sipp.gateway)
    pbx.start()
    yield pbx
    pbx.stop()


def calls(user_id):
    """(call id, status, answered, ended, cause) of the test's calls in the log."""
    query = (
        "SELECT sip_call_id, status, answer_date IS NOT NULL, end_date IS NOT NULL, "
        "hangup_cause FROM cti_call WHERE user_id = %s AND source = %s ORDER BY id"
    )
    return sql(query, (user_id, CALLER))


def test_call_across_a_server_takeover_is_logged_once(tmp_path, lab_pbx, sipp, alice_id, servers):
    sql("DELETE FROM cti_call WHERE user_id = %s AND source = %s", (alice_id, CALLER))
    with lab.Baresip(tmp_path, DEMO_EXTENSION, DEMO_PASSWORD, lab_pbx) as phone:
        phone.wait_registered()
        first = servers.start("first")
        first_pid = wait_until(lambda: owner_pid(alice_id), 60, "the first server to own alice")
        caller = sipp.uac(lab_pbx, DEMO_EXTENSION, caller=CALLER, talk_s=15)
        answer_after_ringing(phone)
        answered = wait_until(
            lambda: [row for row in calls(alice_id) if row[2]], 20, "the answered call"
        )
        servers.kill(first)
        servers.start("second")
        wait_until(
            lambda: (pid := owner_pid(alice_id)) and pid != first_pid, 60, "the second server"
        )
        rows = wait_until(
            lambda: [row for row in calls(alice_id) if row[3]] or None, 40, "the call finished"
        )
        assert caller.wait(30) == 0  # the call itself went on, the caller hung up
        time.sleep(4)  # the new server's sweep of calls that ended unseen runs too
        assert calls(alice_id) == rows
    assert len(rows) == 1
    call_id, status, was_answered, ended, cause = rows[0]
    assert call_id == answered[0][0]
    assert (status, was_answered, ended) == ("answered", True, True)
    assert cause == "hangup"  # seen ending, not "ended while the CTI service was not running"
