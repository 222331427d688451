"""Fixtures for system tests: a lab PBX, alice's demo account pointed at it, Odoo servers.

tools/odoo_tests runs these on the database it just tested (module installed, demo data),
with CTI_ODOO_DIR, CTI_DB and CTI_ADDONS_PATH set.
"""

import os
import re
import time

import psycopg2
import pytest

import lab
from lab.odoo import OdooServer

ODOO_DIR = os.environ.get("CTI_ODOO_DIR", "")
DATABASE = os.environ.get("CTI_DB", "")
ADDONS_PATH = os.environ.get("CTI_ADDONS_PATH", "")
DEMO_EXTENSION, DEMO_PASSWORD = "1001", "sip1001"  # alice in demo/cti_demo.xml


def pytest_collection_modifyitems(items):
    if not (ODOO_DIR and DATABASE and ADDONS_PATH):
        skip = pytest.mark.skip(
            reason="run by tools/odoo_tests, which provides Odoo and a database"
        )
        for item in items:
            item.add_marker(skip)


def sql(query, params=()):
    with psycopg2.connect(dbname=DATABASE, host="127.0.0.1") as cnx, cnx.cursor() as cr:
        cr.execute(query, params)
        return cr.fetchall() if cr.description else None


def sip_sessions(kamailio):
    """The WebSocket connections at Kamailio, as {connection id: description}."""
    dump = kamailio.kamcmd("ws.dump")
    return dict(re.findall(r"(\d+): (ws:.*sub-protocol: sip\))", dump))


def owner_pid(user_id):
    rows = sql(
        """
        SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'advisory' AND l.objid = %s AND l.granted
           AND a.application_name LIKE 'odoo-cti-service/%%'
           AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        """,
        (user_id,),
    )
    return int(rows[0][0].split("/")[1]) if rows else None


def wait_until(predicate, timeout, what):
    """The lab's wait (``lab.wait_until``), polling as slowly as a database deserves."""
    return lab.wait_until(predicate, timeout, interval=0.3, what=what)


def answer_after_ringing(phone):
    """Pick up half a second into the ringing. Answering at once lets Kamailio's UDP workers
    swap the phone's 180 and 200 (the SIPp caller then aborts) and its 'early' and
    'confirmed' dialog updates (the call then looks unanswered): races of the lab PBX, not
    of the product."""
    phone.wait_event("CALL_INCOMING")
    time.sleep(0.5)
    phone.answer()


def session_state(user_id):
    return sql("SELECT session_state FROM cti_account WHERE user_id = %s", (user_id,))[0][0]


class Servers:
    """Odoo servers (``lab.odoo.OdooServer``) started for a test; every one is killed at the
    end."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.started = {}

    def start(self, name, *options):
        server = OdooServer(
            self.tmp_path, DATABASE, ODOO_DIR, name=name, addons=ADDONS_PATH, options=options
        )
        self.started[name] = server.start()
        return server

    def log(self, name):
        return self.started[name].log()

    @staticmethod
    def kill(server):
        server.kill()

    @staticmethod
    def pids(server):
        """The server's process and its children (prefork workers)."""
        return server.pids()

    def stop_all(self):
        for server in self.started.values():
            server.kill()


@pytest.fixture
def sipp(tmp_path):
    factory = lab.SippFactory(tmp_path)
    yield factory
    factory.stop()


@pytest.fixture
def kamailio(tmp_path, sipp):
    pbx = lab.Kamailio(tmp_path, users={DEMO_EXTENSION: DEMO_PASSWORD}, gateway=sipp.gateway)
    pbx.start()
    yield pbx
    pbx.stop()


@pytest.fixture
def lab_pbx(kamailio):
    """The PBX alice's account points at: Kamailio, unless a test module says otherwise."""
    return kamailio


@pytest.fixture
def alice_id(lab_pbx):
    """alice's user id, her account pointed at the lab PBX and logged in to the CTI."""
    rows = sql("SELECT user_id FROM cti_account WHERE username = %s", (DEMO_EXTENSION,))
    assert rows, "the demo account of alice (1001) is missing: demo data not loaded?"
    user_id = rows[0][0]
    sql(
        "UPDATE cti_pbx SET ws_url = %s, domain = %s "
        "WHERE id = (SELECT pbx_id FROM cti_account WHERE user_id = %s)",
        (lab_pbx.ws_url, lab_pbx.domain, user_id),
    )
    # These tests count the SIP sessions of the users they log in: the lines of the others
    # are not watched meanwhile (test_line_watch covers that).
    sql(
        "UPDATE cti_pbx SET share_line_states = false "
        "WHERE id = (SELECT pbx_id FROM cti_account WHERE user_id = %s)",
        (user_id,),
    )
    sql("UPDATE cti_account SET session_wanted = true WHERE user_id = %s", (user_id,))
    yield user_id
    sql("UPDATE cti_account SET session_wanted = false WHERE user_id = %s", (user_id,))
    sql(
        "UPDATE cti_pbx SET share_line_states = true "
        "WHERE id = (SELECT pbx_id FROM cti_account WHERE user_id = %s)",
        (user_id,),
    )


@pytest.fixture
def servers(tmp_path):
    started = Servers(tmp_path)
    yield started
    started.stop_all()
