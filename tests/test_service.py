"""The CTI service inside Odoo against real Kamailio, baresip and SIPp.

The routes enqueue, the service host (started by the test, with the engine) carries the
commands out against the lab PBX, and what the user would see arrives as bus rows.
"""

import json
import time
from datetime import timedelta

from odoo import fields
from odoo.tests import tagged

from .lab_case import CtiLabCase

LOGGED_COLUMNS = (
    "status",
    "direction",
    "partner_id",
    "duration",
    "ring_duration",
    "hangup_cause",
    "transferred_to",
    "id",
)

CALLER = "+4930123456"
OTHER_CALLERS = ("+4940555111", "+4940555222")


@tagged("post_install", "-at_install")
class TestService(CtiLabCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.alice = cls.create_cti_user("cti_svc_alice", "1001")
        cls.bob = cls.create_cti_user("cti_svc_bob", "1002")
        cls.nobody = cls.create_cti_user("cti_svc_nobody")
        cls.caller_partner = cls.env["res.partner"].create(
            {"name": "Erika Mustermann", "phone": "030 123456", "country_id": cls.germany.id}
        )
        cls.far_partner = cls.env["res.partner"].create({"name": "Far End GmbH"})
        cls.other_partner_ids = [
            cls.env["res.partner"].create({"name": f"Caller {number}", "phone": number}).id
            for number in OTHER_CALLERS
        ]

    def setUp(self):
        super().setUp()
        # A fresh desk phone per test: no call or event of an earlier test can leak in.
        self.phone = self.start_phone("1001")
        # Sessions are made before the service starts (see lab_case).
        self.sessions = {}
        self.partner_of = {user.id: user.partner_id.id for user in (self.alice, self.bob)}
        for user in (self.alice, self.bob, self.nobody):
            self.session = None  # authenticate() would delete the previous user's session
            self.authenticate(user.login, user.login)
            self.sessions[user] = (self.session, self.opener)
        self.host = self.start_service()

    # -- helpers -----------------------------------------------------------------------

    def rpc(self, user, route, **params):
        self.session, self.opener = self.sessions[user]
        return self.make_jsonrpc_request(route, params)

    def bus_events(self, user):
        return self.cti_events(self.partner_of[user.id])

    def logged_calls(self, user):
        return self.finished_calls(user, LOGGED_COLUMNS)

    def call_activities(self, model, res_id):
        """(done Call activities in the chatter, planned Call activities) of a record."""
        with self.registry.cursor() as cr:
            call_type = self.env(cr=cr).ref("mail.mail_activity_data_call").id
            cr.execute(
                "SELECT count(*) FROM mail_message WHERE model = %s AND res_id = %s "
                "AND mail_activity_type_id = %s",
                (model, res_id, call_type),
            )
            done = cr.fetchone()[0]
            cr.execute(
                "SELECT count(*) FROM mail_activity WHERE res_model = %s AND res_id = %s "
                "AND activity_type_id = %s",
                (model, res_id, call_type),
            )
            return done, cr.fetchone()[0]

    def wait_for(self, user, name, count=1, timeout=25):
        return self.wait_for_event(self.partner_of[user.id], name, count, timeout)

    def names(self, user, calls_only=False):
        return [e["name"] for e in self.bus_events(user) if not calls_only or "call" in e]

    def login(self, user):
        self.assertEqual(self.rpc(user, "/cti/login"), {"queued": True})
        self.wait_for(user, "READY")

    # -- tests -------------------------------------------------------------------------

    def test_login_events_reach_only_that_user(self):
        self.login(self.alice)
        self.assertEqual(self.names(self.alice), ["LOGGED_IN", "READY"])
        self.assertEqual(self.bus_events(self.bob), [])
        self.assertEqual(self.host.owned_users, {self.alice.id})
        status = self.rpc(self.alice, "/cti/status")
        self.assertEqual(status["state"], "ready")
        self.assertTrue(status["loggedIn"])
        self.rpc(self.alice, "/cti/logout")
        self.wait_for(self.alice, "LOGGED_OUT")
        self.assertEqual(self.names(self.alice), ["LOGGED_IN", "READY", "LOGGED_OUT"])

    def test_stopping_the_service_logs_users_out(self):
        self.login(self.alice)
        self.host.stop()
        self.assertEqual(self.names(self.alice), ["LOGGED_IN", "READY", "LOGGED_OUT"])
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT session_state, session_wanted FROM cti_account WHERE user_id = %s",
                (self.alice.id,),
            )
            # Offline while no service runs; still wanted, so the next service logs in again.
            self.assertEqual(cr.fetchone(), ("logged_out", True))

    def test_inbound_call_events(self):
        self.login(self.alice)
        caller = self.sipp.uac(self.lab_pbx, "1001", caller=CALLER, talk_s=3)
        self.phone.wait_event("CALL_INCOMING")
        ringing = self.wait_for(self.alice, "RINGING")
        time.sleep(2)
        self.phone.answer()
        self.wait_for(self.alice, "CONNECTED")
        self.wait_for(self.alice, "HANGUP")
        self.assertEqual(caller.wait(), 0)
        self.assertEqual(
            self.names(self.alice, calls_only=True), ["RINGING", "CONNECTED", "HANGUP"]
        )
        self.assertEqual(ringing["call"]["source"], CALLER)
        self.assertEqual(ringing["call"]["direction"], "INBOUND")
        self.assertEqual(ringing["call"]["partnerId"], self.caller_partner.id)
        self.assertEqual(ringing["call"]["sourceName"], "Erika Mustermann")
        calls = self.logged_calls(self.alice)
        self.assertEqual(len(calls), 1)
        self.assertEqual(calls[0]["status"], "answered")
        self.assertEqual(calls[0]["partner_id"], self.caller_partner.id)
        self.assertAlmostEqual(calls[0]["ring_duration"], 2, delta=1)
        self.assertAlmostEqual(calls[0]["duration"], 3, delta=1)
        self.assertEqual(self.call_activities("res.partner", self.caller_partner.id), (1, 0))
        for event in self.bus_events(self.alice):
            self.assertNotIn(self.LAB_USERS["1001"], json.dumps(event))
        # logged in, challenged, called: the SIP password is in no log line of the process
        self.assertTrue(self.log_lines)
        self.assertFalse([line for line in self.log_lines if self.LAB_USERS["1001"] in line])

    def test_click_to_call_events(self):
        self.login(self.alice)
        far = self.sipp.uas("answer", ring_s=1, hangup_after_s=2)
        result = self.rpc(
            self.alice,
            "/cti/call",
            destination="089 555000",
            origin={"model": "res.partner", "id": self.far_partner.id},
        )
        self.assertTrue(result["queued"])
        initial = self.wait_for(self.alice, "INITIAL")
        self.assertEqual(initial["call"]["destination"], "+4989555000")
        self.phone.wait_event("CALL_INCOMING")
        self.phone.answer()
        self.wait_for(self.alice, "HANGUP")
        self.assertEqual(far.wait(), 0)
        self.assertEqual(
            self.names(self.alice, calls_only=True),
            ["INITIAL", "ACCEPTED", "RINGING", "CONNECTED", "HANGUP"],
        )
        self.assertEqual(initial["call"]["partnerId"], self.far_partner.id)
        calls = self.logged_calls(self.alice)
        self.assertEqual(len(calls), 1)
        self.assertEqual(calls[0]["direction"], "outbound")
        self.assertEqual(calls[0]["partner_id"], self.far_partner.id)
        self.assertEqual(calls[0]["status"], "answered")
        self.assertAlmostEqual(calls[0]["duration"], 2, delta=1)
        self.assertEqual(self.call_activities("res.partner", self.far_partner.id), (1, 0))

    def test_three_inbound_calls_each_logged_with_its_partner(self):
        """Calls in a row from different numbers: each its own log row, activity and
        partner (on Asterisk every call used to carry the first one's id)."""
        self.login(self.alice)
        callers = [CALLER, *OTHER_CALLERS]
        partner_ids = [self.caller_partner.id, *self.other_partner_ids]
        for index, number in enumerate(callers):
            since = len(self.phone.event_types())
            caller = self.sipp.uac(self.lab_pbx, "1001", caller=number, talk_s=1)
            self.phone.wait_event("CALL_INCOMING", since=since)
            ringing = self.wait_for(self.alice, "RINGING", index + 1)
            self.assertEqual(ringing["call"]["partnerId"], partner_ids[index])
            time.sleep(0.5)
            self.phone.answer()
            self.wait_for(self.alice, "HANGUP", index + 1)
            self.assertEqual(caller.wait(), 0)
            self.phone.wait_event("CALL_CLOSED", since=since)
        calls = self.logged_calls(self.alice)
        self.assertEqual(len(calls), 3)
        self.assertEqual(sorted(c["partner_id"] for c in calls), sorted(partner_ids))
        self.assertEqual({c["status"] for c in calls}, {"answered"})
        for partner_id in partner_ids:
            self.assertEqual(self.call_activities("res.partner", partner_id), (1, 0))

    def test_call_dialled_on_the_desk_phone_is_logged(self):
        self.login(self.alice)
        far = self.sipp.uas("answer", ring_s=0.5, hangup_after_s=2)
        self.phone.dial(self.lab_pbx.aor("+4989555000"))
        self.wait_for(self.alice, "HANGUP")
        self.assertEqual(far.wait(), 0)
        self.assertEqual(
            self.names(self.alice, calls_only=True), ["RINGING", "CONNECTED", "HANGUP"]
        )
        calls = self.logged_calls(self.alice)
        self.assertEqual([(c["direction"], c["status"]) for c in calls], [("outbound", "answered")])
        self.assertAlmostEqual(calls[0]["duration"], 2, delta=1.5)

    def test_missed_call_leaves_a_call_back(self):
        self.login(self.alice)
        caller = self.sipp.uac(self.lab_pbx, "1001", caller=CALLER, cancel_after_s=2)
        final = self.wait_for(self.alice, "CANCEL")
        caller.wait()
        self.assertEqual(final["call"]["cause"], "missed")
        calls = self.logged_calls(self.alice)
        self.assertEqual([c["status"] for c in calls], ["missed"])
        self.assertAlmostEqual(calls[0]["ring_duration"], 2, delta=1)
        self.assertEqual(calls[0]["duration"], 0)
        self.assertEqual(self.call_activities("res.partner", self.caller_partner.id), (0, 1))

    def test_busy_far_end(self):
        self.login(self.alice)
        far = self.sipp.uas("busy")
        self.rpc(self.alice, "/cti/call", destination="+4989555000")
        self.phone.wait_event("CALL_INCOMING")
        self.phone.answer()
        final = self.wait_for(self.alice, "CANCEL")
        far.wait()
        self.assertEqual(final["call"]["cause"], "busy")
        calls = self.logged_calls(self.alice)
        self.assertEqual([c["status"] for c in calls], ["busy"])
        self.assertEqual(calls[0]["duration"], 0)

    def test_transferred_call(self):
        self.login(self.alice)
        bob_phone = self.start_phone("1002", auto_answer=True)
        far = self.sipp.uas("reinvite")
        self.rpc(self.alice, "/cti/call", destination="+4989555000")
        self.phone.wait_event("CALL_INCOMING")
        self.phone.answer()
        connected = self.wait_for(self.alice, "CONNECTED")
        self.rpc(self.alice, "/cti/transfer", callId=connected["call"]["id"], destination="1002")
        hangup = self.wait_for(self.alice, "HANGUP")
        self.assertEqual(hangup["call"]["cause"], "transferred")
        bob_phone.wait_event("CALL_ESTABLISHED")
        self.assertEqual(hangup["call"]["transferredTo"], "1002")
        calls = self.logged_calls(self.alice)
        self.assertEqual([c["status"] for c in calls], ["transferred"])
        self.assertEqual(calls[0]["transferred_to"], "1002")
        bob_phone.hangup()
        far.wait()

    def test_foreign_call_id_changes_nothing(self):
        self.login(self.alice)
        self.login(self.bob)
        caller = self.sipp.uac(self.lab_pbx, "1001", caller=CALLER, cancel_after_s=4)
        ringing = self.wait_for(self.alice, "RINGING")
        result = self.rpc(self.bob, "/cti/terminate", callId=ringing["call"]["id"])
        self.assertTrue(result["queued"])
        error = self.wait_for(self.bob, "ERROR")
        self.assertIn(ringing["call"]["id"], error["message"])
        final = self.wait_for(self.alice, "CANCEL")
        self.assertEqual(final["call"]["cause"], "missed")
        caller.wait()

    def test_stale_command_expires_instead_of_calling_late(self):
        self.login(self.alice)
        invites = self.lab_pbx.requests_received("INVITE")
        with self.registry.cursor() as cr:
            env = self.env(cr=cr)
            account = env["cti.account"].search([("user_id", "=", self.alice.id)])
            command = env["cti.command"].create(
                {
                    "user_id": self.alice.id,
                    "account_id": account.id,
                    "name": "call",
                    "payload": {"destination": "+4989555000"},
                    "expire_date": fields.Datetime.now() - timedelta(seconds=5),
                }
            )
            command_id = command.id
        error = self.wait_for(self.alice, "ERROR")
        self.assertIn("too late", error["message"])
        with self.registry.cursor() as cr:
            cr.execute("SELECT state FROM cti_command WHERE id = %s", (command_id,))
            self.assertEqual(cr.fetchone()[0], "expired")
        time.sleep(1)
        self.assertEqual(self.lab_pbx.requests_received("INVITE"), invites)
        self.assertEqual(self.names(self.alice, calls_only=True), [])

    def test_bad_input_is_refused_at_once(self):
        self.login(self.alice)
        for destination in ("abc", "1001\r\nVia: x", "sip:1002@pbx.test", ""):
            result = self.rpc(self.alice, "/cti/call", destination=destination)
            self.assertEqual(result["name"], "ERROR", destination)
        self.assertEqual(self.rpc(self.alice, "/cti/terminate", callId="x'; DROP")["name"], "ERROR")
        with self.registry.cursor() as cr:
            commands = self.env(cr=cr)["cti.command"].search_count(
                [("user_id", "=", self.alice.id)]
            )
        self.assertEqual(commands, 0)
        result = self.rpc(self.nobody, "/cti/login")
        self.assertEqual(result["name"], "ERROR")
        self.assertIn("no CTI account", result["message"])


@tagged("post_install", "-at_install")
class TestServiceAsterisk(TestService):
    """Every scenario above against Asterisk 22, whose dialog events come from the
    extension's device state (lab/conf/asterisk, README "PBX setup")."""

    LAB_PBX = "asterisk"
    # Odoo's loader collects only a class's own test methods unless told otherwise.
    allow_inherited_tests_method = True
