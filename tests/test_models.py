from datetime import datetime, timedelta

from odoo import fields
from odoo.exceptions import ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger
from psycopg2 import IntegrityError

from .common import CtiCommon


@tagged("post_install", "-at_install")
class TestPbx(CtiCommon):
    def test_ws_url_must_be_a_websocket_url(self):
        for url in ("ws://127.0.0.1:8088", "wss://pbx.example.com:8089/ws", "WSS://pbx/ws"):
            with self.subTest(url=url):
                self.pbx.ws_url = url
        for url in ("http://pbx.example.com", "pbx.example.com", "ws://", "wss://pbx:99999/ws"):
            with self.subTest(url=url), self.assertRaises(ValidationError):
                self.pbx.ws_url = url

    def test_domain_is_checked(self):
        with self.assertRaises(ValidationError):
            self.pbx.domain = "example.com>\r\nVia: x"

    def test_defaults(self):
        pbx = self.env["cti.pbx"].create({"name": "P", "ws_url": "ws://pbx", "domain": "pbx"})
        self.assertTrue(pbx.verify_tls)
        self.assertEqual(pbx.company_id, self.env.company)
        self.assertEqual(pbx.country_id, self.env.company.country_id)
        self.assertEqual(self.pbx.account_count, 2)


@tagged("post_install", "-at_install")
class TestAccount(CtiCommon):
    def test_one_account_per_user(self):
        with self.assertRaises(IntegrityError), mute_logger("odoo.sql_db"):
            self.env["cti.account"].create(
                {"user_id": self.alice.id, "pbx_id": self.pbx.id, "username": "2009"}
            )

    def test_the_pbx_settings_reach_the_agent(self):
        config = self.account_alice._cti_agent_config()
        self.assertEqual(config["subscribe_expires"], 600)
        self.pbx.register_expires = 120
        self.assertEqual(self.account_alice._cti_agent_config()["subscribe_expires"], 120)
        with self.assertRaises(ValidationError):
            self.pbx.register_expires = 30

    def test_auth_username_defaults_to_username(self):
        self.assertEqual(self.account_alice.auth_username, "2001")
        self.account_alice.username = "2011"
        self.assertEqual(
            self.account_alice.auth_username, "2011", "a default follows the extension"
        )
        account = self.env["cti.account"].create(
            {
                "user_id": self.plain.id,
                "pbx_id": self.pbx.id,
                "username": "2003",
                "auth_username": "auth2003",
            }
        )
        self.assertEqual(account.auth_username, "auth2003")
        account.username = "2004"
        self.assertEqual(account.auth_username, "auth2003")

    def test_sip_identifiers_cannot_inject(self):
        for username in ("20 01", "2001@evil", "2001\r\nVia: x", "<sip:2001>"):
            with self.subTest(username=username), self.assertRaises(ValidationError):
                self.account_alice.username = username
        with self.assertRaises(ValidationError):
            self.account_alice.auto_answer_header = "Call-Info: answer-after=0\r\nTo: <sip:x>"
        with self.assertRaises(ValidationError):
            self.account_alice.auto_answer_header = "answer-after=0"
        self.account_alice.auto_answer_header = "Call-Info: <sip:127.0.0.1>;answer-after=0"

    def test_display_name(self):
        self.assertEqual(self.account_alice.display_name, f"{self.alice.name} (2001@example.com)")


@tagged("post_install", "-at_install")
class TestCall(CtiCommon):
    def test_a_call_is_logged_once_per_user(self):
        self.create_call(self.alice, "call-shared")
        self.create_call(self.bob, "call-shared")
        with self.assertRaises(IntegrityError), mute_logger("odoo.sql_db"):
            self.create_call(self.alice, "call-shared")

    def test_durations(self):
        start = datetime(2024, 5, 1, 9, 0, 0)
        call = self.create_call(self.alice, "call-timed", status="connected", start_date=start)
        self.assertEqual((call.ring_duration, call.duration), (0, 0))
        call.answer_date = start + timedelta(seconds=12)
        self.assertEqual((call.ring_duration, call.duration), (12, 0))
        call.write({"end_date": start + timedelta(seconds=102), "status": "answered"})
        self.assertEqual((call.ring_duration, call.duration), (12, 90))
        missed = self.create_call(
            self.alice,
            "call-missed",
            direction="inbound",
            status="missed",
            start_date=start,
            end_date=start + timedelta(seconds=25),
        )
        self.assertEqual((missed.ring_duration, missed.duration), (25, 0))

    def test_display_name(self):
        partner = self.env["res.partner"].create({"name": "Ada"})
        self.call_alice.partner_id = partner
        self.assertEqual(self.call_alice.display_name, "Call to Ada")
        inbound = self.create_call(
            self.alice, "call-in", direction="inbound", source="+4930999", destination="2001"
        )
        self.assertEqual(inbound.display_name, "Call from +4930999")


@tagged("post_install", "-at_install")
class TestCommand(CtiCommon):
    def test_defaults(self):
        before = fields.Datetime.now()
        command = self.env["cti.command"].create({"name": "answer", "user_id": self.bob.id})
        self.assertEqual(command.account_id, self.account_bob)
        self.assertEqual(command.state, "pending")
        self.assertGreater(command.expire_date, before)
        self.assertLessEqual(command.expire_date, before + timedelta(minutes=1))

    def test_state_and_expiry_are_the_servers(self):
        now = fields.Datetime.now()
        command = self.env["cti.command"].create(
            {
                "name": "call",
                "user_id": self.bob.id,
                "state": "claimed",
                "result": "forged",
                "expire_date": now + timedelta(days=365),
            }
        )
        self.assertEqual(command.state, "pending")
        self.assertFalse(command.result)
        self.assertLessEqual(command.expire_date, now + timedelta(seconds=31))

    def test_only_through_own_account(self):
        with self.assertRaises(ValidationError):
            self.env["cti.command"].create(
                {"name": "call", "user_id": self.alice.id, "account_id": self.account_bob.id}
            )

    def test_autovacuum_expires_and_purges(self):
        Command = self.env["cti.command"]
        now = fields.Datetime.now()
        stale = Command.create(
            {
                "name": "call",
                "user_id": self.alice.id,
                "account_id": self.account_alice.id,
                "expire_date": now - timedelta(seconds=1),
            }
        )
        fresh = Command.create(
            {"name": "call", "user_id": self.alice.id, "account_id": self.account_alice.id}
        )
        old = Command.create(
            {"name": "answer", "user_id": self.alice.id, "account_id": self.account_alice.id}
        )
        old.state = "done"
        self.env.cr.execute(
            "UPDATE cti_command SET create_date = %s WHERE id = %s",
            [now - timedelta(days=2), old.id],
        )
        old.invalidate_recordset(["create_date"])
        Command._gc_commands()
        self.assertEqual(stale.state, "expired")
        self.assertEqual(fresh.state, "pending")
        self.assertFalse(old.exists())
