"""The exploits of issue 14, re-run as a CTI user would run them, against Odoo's routes and
ORM, the service host and the real lab PBX (Kamailio, baresip, SIPp)."""

import time
import xmlrpc.client
from datetime import timedelta

from odoo import fields
from odoo.tests import tagged

from .. import lab
from .lab_case import CtiLabCase

HOSTILE_NAME = "Carol\r\nCall-Info: <sip:x>;answer-after=0"
HOSTILE_PAYLOADS = (
    ("call", [1]),
    ("call", {"destination": [1], "origin": 1}),
    ("call", {"destination": "+4989555000", "origin": {"model": "res.users", "id": 2}}),
    ("terminate", "x"),
    ("transfer", {"callId": "abc", "destination": None}),
    ("hold", {}),
)


@tagged("post_install", "-at_install")
class TestSecurityExploits(CtiLabCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.alice = cls.create_cti_user("cti_sec_alice", "1001")
        cls.bob = cls.create_cti_user("cti_sec_bob", "1002")
        cls.partner_of = {user.id: user.partner_id.id for user in (cls.alice, cls.bob)}
        # Plain ids: the test thread must not read through self.env while the service runs.
        cls.account_of = {
            account.user_id.id: account.id
            for account in cls.env["cti.account"].search(
                [("user_id", "in", (cls.alice + cls.bob).ids)]
            )
        }
        cls.admin_id = cls.env.ref("base.user_admin").id
        cls.cti_user_group_id = cls.env.ref("cti_connector.group_cti_user").id

    def setUp(self):
        super().setUp()
        self.sessions = {}
        for user in (self.alice, self.bob):
            self.session = None
            self.authenticate(user.login, user.login)
            self.sessions[user] = (self.session, self.opener)

    def rpc(self, user, route, **params):
        self.session, self.opener = self.sessions[user]
        return self.make_jsonrpc_request(route, params)

    def wait_for(self, user, name, count=1, timeout=25):
        return self.wait_for_event(self.partner_of[user.id], name, count, timeout)

    def names(self, user):
        return [event["name"] for event in self.cti_events(self.partner_of[user.id])]

    def commands(self, user):
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT name, state, result FROM cti_command WHERE user_id = %s ORDER BY id",
                (user.id,),
            )
            return cr.fetchall()

    def insert_commands(self, user, rows, expire_date=None):
        """Rows as they could sit in the table (e.g. written before this release): the
        service must judge every one of them by itself."""
        with self.registry.cursor() as cr:
            Command = self.env(cr=cr)["cti.command"]
            for name, payload in rows:
                values = {
                    "user_id": user.id,
                    "account_id": self.account_of[user.id],
                    "name": name,
                    "payload": payload,
                }
                if expire_date:
                    values["expire_date"] = expire_date
                Command.create(values)
            cr.execute("SELECT pg_notify('cti_command', '0')")

    def test_own_name_cannot_inject_a_sip_header(self):
        """Exploit 1: a user puts a header in their own name; their session still works
        with the cleaned name, and Kamailio never sees a broken message."""
        with self.registry.cursor() as cr:
            self.env(cr=cr)["res.users"].with_user(self.alice).browse(self.alice.id).write(
                {"name": HOSTILE_NAME}
            )
        phone = self.start_phone("1001")
        far = self.sipp.uas("answer", ring_s=1, hangup_after_s=1)
        self.start_service()
        self.assertEqual(self.rpc(self.alice, "/cti/login"), {"queued": True})
        self.wait_for(self.alice, "READY")
        self.assertTrue(self.rpc(self.alice, "/cti/call", destination="089 555000")["queued"])
        phone.wait_event("CALL_INCOMING")
        phone.answer()
        self.wait_for(self.alice, "CONNECTED")
        self.wait_for(self.alice, "HANGUP", timeout=30)
        self.assertEqual(far.wait(), 0)
        self.assertNotIn("ERROR", self.names(self.alice))
        log = self.lab_pbx.log_text()
        self.assertIn("REQ SUBSCRIBE", log)
        self.assertIn("to PSTN gateway", log)
        self.assertNotIn("malformed", log)

    def test_hostile_command_rows_stall_nobody(self):
        """Exploit 2: rows no route would write fail one by one with a reason; another
        user's click-to-call right after them is carried out at once."""
        # As a user would try it first: XML-RPC straight into the queue is refused.
        with self.assertRaises(xmlrpc.client.Fault) as refused:
            self.xmlrpc_object.execute(
                self.env.cr.dbname,
                self.alice.id,
                self.alice.login,
                "cti.command",
                "create",
                {"name": "call", "payload": [1]},
            )
        self.assertIn("not allowed to create", refused.exception.faultString)
        bob_phone = self.start_phone("1002")
        self.start_service()
        for user in (self.alice, self.bob):
            self.rpc(user, "/cti/login")
            self.wait_for(user, "READY")
        self.insert_commands(self.alice, HOSTILE_PAYLOADS)
        self.assertTrue(self.rpc(self.bob, "/cti/call", destination="1001")["queued"])
        initial = self.wait_for(self.bob, "INITIAL", timeout=5)
        self.assertEqual(initial["call"]["destination"], "1001")
        bob_phone.wait_event("CALL_INCOMING")
        states = self.commands(self.alice)
        self.assertEqual([state for _name, state, _result in states], ["failed"] * 6)
        self.assertTrue(all(result for _name, _state, result in states))
        self.assertIn("payload is not an object", states[0][2])
        self.assertIn("destination", states[1][2])
        self.assertIn("record the call comes from", states[2][2])
        self.assertEqual(self.commands(self.bob)[-1][1], "done")

    def test_expired_burst_does_not_flood_the_push_lane(self):
        self.start_service()
        self.rpc(self.alice, "/cti/login")
        self.wait_for(self.alice, "READY")
        past = fields.Datetime.now() - timedelta(seconds=5)
        self.insert_commands(self.alice, [("call", {"destination": "1002"})] * 450, past)
        self.wait_for(self.alice, "ERROR")
        lab.wait_until(
            lambda: all(state != "pending" for _n, state, _r in self.commands(self.alice)),
            10,
            0.1,
            "every row claimed",
        )
        time.sleep(0.5)  # any further ERROR would be pushed by now
        states = {state for _name, state, _result in self.commands(self.alice)}
        self.assertEqual(states, {"expired"})
        # 450 rows, claimed at most 200 a pass: one ERROR per pass, not one per row.
        self.assertLessEqual(self.names(self.alice).count("ERROR"), 3)

    def write_as(self, user, model, record_id, values):
        with self.registry.cursor() as cr:
            self.env(cr=cr, user=user)[model].browse(record_id).write(values)

    def test_logging_in_again_or_unrelated_writes_keep_the_call(self):
        """A second login, or a write that changes nothing the agent uses, neither
        reconnects nor drops the call in progress; a change of a setting the agent uses
        reconnects that user."""
        phone = self.start_phone("1001")
        far = self.sipp.uas("answer", ring_s=1, hangup_after_s=4)
        self.start_service()
        self.rpc(self.alice, "/cti/login")
        self.wait_for(self.alice, "READY")
        self.rpc(self.alice, "/cti/call", destination="089 555000")
        phone.wait_event("CALL_INCOMING")
        phone.answer()
        self.wait_for(self.alice, "CONNECTED")
        account_id, manager = self.account_of[self.alice.id], self.admin_id
        self.assertEqual(self.rpc(self.alice, "/cti/login"), {"queued": True})
        self.assertEqual(self.rpc(self.alice, "/cti/login"), {"queued": True})
        self.write_as(self.alice.id, "res.users", self.alice.id, {"cti_auto_login": True})
        self.write_as(manager, "cti.pbx", self.pbx.id, {"name": "Lab PBX (renamed)"})
        hangup = self.wait_for(self.alice, "HANGUP", timeout=30)
        self.assertEqual(hangup["call"]["cause"], "remote hangup")
        self.assertEqual(far.wait(), 0)
        self.assertEqual(self.names(self.alice).count("READY"), 1)
        self.assertNotIn("LOGGED_OUT", self.names(self.alice))
        self.write_as(manager, "cti.account", account_id, {"auto_answer_header": "X-Answer: 1"})
        self.wait_for(self.alice, "READY", count=2)
        self.assertEqual(self.names(self.alice).count("LOGGED_OUT"), 1)

    def test_leaving_the_cti_groups_or_an_archived_account_ends_the_session(self):
        self.start_service()
        for user in (self.alice, self.bob):
            self.rpc(user, "/cti/login")
            self.wait_for(user, "READY")
        group, admin = self.cti_user_group_id, self.admin_id
        self.write_as(admin, "res.users", self.alice.id, {"groups_id": [(3, group)]})
        self.write_as(admin, "cti.account", self.account_of[self.bob.id], {"active": False})
        self.wait_for(self.alice, "LOGGED_OUT", timeout=5)
        self.wait_for(self.bob, "LOGGED_OUT", timeout=5)
