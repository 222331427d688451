"""Two Odoo servers on one database share the CTI users: exactly one SIP session per user.

Run by tools/odoo_tests on the database it just tested (module installed, demo data), with
CTI_ODOO_DIR, CTI_DB and CTI_ADDONS_PATH set. One server runs threaded, the other prefork
(its CTI worker is a dedicated process), so both hosting modes are exercised.
"""

import os
import re
import signal
import subprocess
import sys
import time

import psycopg2
import pytest

from pbx import lab

ODOO_DIR = os.environ.get("CTI_ODOO_DIR", "")
DATABASE = os.environ.get("CTI_DB", "")
ADDONS_PATH = os.environ.get("CTI_ADDONS_PATH", "")
DEMO_EXTENSION, DEMO_PASSWORD = "1001", "sip1001"  # alice in demo/cti_demo.xml

pytestmark = pytest.mark.skipif(
    not (ODOO_DIR and DATABASE and ADDONS_PATH),
    reason="run by tools/odoo_tests, which provides an Odoo tree and a database",
)


def sql(query, params=()):
    with psycopg2.connect(dbname=DATABASE, host="127.0.0.1") as cnx, cnx.cursor() as cr:
        cr.execute(query, params)
        return cr.fetchall() if cr.description else None


def sip_sessions(kamailio):
    return len(re.findall(r"sub-protocol: sip", kamailio.kamcmd("ws.dump")))


def owner_pid(user_id):
    rows = sql(
        """
        SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'advisory' AND l.objid = %s AND l.granted
           AND a.application_name LIKE 'odoo-cti-service/%%'
        """,
        (user_id,),
    )
    return int(rows[0][0].split("/")[1]) if rows else None


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def start_server(tmp_path, name, *options):
    config = tmp_path / f"{name}.conf"
    config.write_text("[options]\n\n[cti_connector]\nreconcile_interval = 1\n")
    log = tmp_path / f"{name}.log"
    argv = [
        sys.executable,
        os.path.join(ODOO_DIR, "odoo-bin"),
        "-c",
        str(config),
        f"--addons-path={ADDONS_PATH}",
        "--db_host=127.0.0.1",
        "-d",
        DATABASE,
        "--db-filter",
        f"^{DATABASE}$",
        "--load=base,web,cti_connector",
        "--http-interface=127.0.0.1",
        f"--http-port={lab.free_port('tcp')}",
        f"--logfile={log}",
        "--max-cron-threads=0",
        *options,
    ]
    process = subprocess.Popen(argv, start_new_session=True)
    return process, log


def kill(process):
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def pids_of(process):
    """The server's process and its children (prefork workers)."""
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(process.pid)],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return {process.pid, *(int(pid) for pid in out.split())}


def test_one_session_per_user_and_takeover(tmp_path):
    sipp = lab.SippFactory(tmp_path)
    kamailio = lab.Kamailio(
        tmp_path, users={DEMO_EXTENSION: DEMO_PASSWORD}, gateway=sipp.gateway
    ).start()
    servers = []
    try:
        user_rows = sql(
            "SELECT a.user_id FROM cti_account a WHERE a.username = %s", (DEMO_EXTENSION,)
        )
        assert user_rows, "the demo account of alice (1001) is missing: demo data not loaded?"
        user_id = user_rows[0][0]
        sql(
            "UPDATE cti_pbx SET ws_url = %s, domain = %s WHERE id = "
            "(SELECT pbx_id FROM cti_account WHERE user_id = %s)",
            (kamailio.ws_url, kamailio.domain, user_id),
        )
        sql("UPDATE cti_account SET session_wanted = true WHERE user_id = %s", (user_id,))

        threaded = start_server(tmp_path, "threaded")
        prefork = start_server(
            tmp_path, "prefork", "--workers=2", f"--gevent-port={lab.free_port('tcp')}"
        )
        servers = [threaded[0], prefork[0]]

        first_owner = wait_until(lambda: owner_pid(user_id), 60, "a server to own alice")
        wait_until(lambda: sip_sessions(kamailio) == 1, 30, "alice's SIP session")
        time.sleep(5)  # several reconcile rounds of both servers
        assert sip_sessions(kamailio) == 1
        assert owner_pid(user_id) == first_owner

        owner = next(p for p in servers if first_owner in pids_of(p))
        other = next(p for p in servers if p is not owner)
        other_pids = pids_of(other)
        killed_at = time.monotonic()
        kill(owner)
        new_owner = wait_until(
            lambda: (pid := owner_pid(user_id)) and pid != first_owner and pid,
            30,
            "the other server to take alice over",
        )
        wait_until(
            lambda: sip_sessions(kamailio) == 1,
            30 - (time.monotonic() - killed_at),
            "alice's SIP session on the other server",
        )
        assert new_owner in other_pids | pids_of(other)
        assert time.monotonic() - killed_at < 30
        state = sql("SELECT session_state FROM cti_account WHERE user_id = %s", (user_id,))
        assert state[0][0] == "ready"
    finally:
        for process in servers:
            kill(process)
        kamailio.stop()
        sipp.stop()
