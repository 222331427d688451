"""The PBX driver chosen on ``cti.pbx``: its Manager Interface secret, and the service
carrying out controls through it on the lab Asterisk (one AMI connection per PBX)."""

import time

from odoo.exceptions import AccessError, ValidationError
from odoo.tests import TransactionCase, new_test_user, tagged

from ..service import secret
from .common import CTI_MANAGER_GROUPS, CTI_USER_GROUPS
from .lab_case import CtiLabCase

CALLER = "+4930123456"


@tagged("post_install", "-at_install")
class TestPbxDriverSettings(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager = new_test_user(cls.env, "cti_drv_manager", groups=CTI_MANAGER_GROUPS)
        cls.user = new_test_user(cls.env, "cti_drv_user", groups=CTI_USER_GROUPS)
        cls.pbx = cls.env["cti.pbx"].create(
            {"name": "Asterisk", "ws_url": "wss://pbx.example.com:8089/ws", "domain": "pbx.test"}
        )

    def stored_secret(self):
        self.env.cr.execute("SELECT ami_secret FROM cti_pbx WHERE id = %s", [self.pbx.id])
        return self.env.cr.fetchone()[0]

    def test_sip_only_by_default(self):
        self.assertEqual(self.pbx.driver, "sip")
        self.assertEqual(self.pbx._cti_driver_config(), ("sip", {}))

    def test_secret_is_encrypted_and_write_only(self):
        self.pbx.with_user(self.manager).write(
            {"driver": "asterisk", "ami_username": "cti", "ami_secret": "s3cret-ami"}
        )
        stored = self.stored_secret()
        self.assertTrue(secret.is_token(stored))
        self.assertNotIn("s3cret-ami", stored)
        self.pbx.invalidate_recordset()
        self.assertFalse(self.pbx.with_user(self.manager).ami_secret)
        kind, settings = self.pbx._cti_driver_config()
        self.assertEqual(kind, "asterisk")
        self.assertEqual(settings["secret"], "s3cret-ami")
        # the WebSocket URL's host when no Manager Interface host is given
        self.assertEqual(settings["host"], "pbx.example.com")
        self.assertEqual((settings["port"], settings["context"]), (5038, "from-internal"))
        with self.assertRaises(AccessError):
            self.pbx.with_user(self.user).read(["ami_secret"])
        with self.assertRaises(AccessError):
            self.pbx.with_user(self.user).write({"ami_secret": "mine"})

    def test_settings_cannot_break_an_action(self):
        for values in (
            {"ami_username": "cti\r\nAction: Originate"},
            {"ami_username": "cti", "ami_context": "internal\nExten: 900"},
            {"ami_username": "cti", "ami_port": 0},
            {"ami_username": False},
        ):
            with self.subTest(values=values), self.assertRaises(ValidationError):
                self.pbx.write({"driver": "asterisk", **values})
                self.pbx.flush_recordset()

    def test_secrets_rotate_with_the_sip_passwords(self):
        self.pbx.write({"driver": "asterisk", "ami_username": "cti", "ami_secret": "x"})
        before = self.stored_secret()
        self.assertGreaterEqual(self.env["cti.account"]._cti_rotate_passwords(), 1)
        self.assertNotEqual(self.stored_secret(), before)
        self.assertEqual(self.pbx._cti_driver_config()[1]["secret"], "x")


@tagged("post_install", "-at_install")
class TestServiceAsteriskManager(CtiLabCase):
    """The service on the lab Asterisk with its Manager Interface: an inbound call answered
    on the desk phone is held, resumed and transferred from the routes."""

    LAB_PBX = "asterisk"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.use_manager_interface()
        cls.alice = cls.create_cti_user("cti_ami_alice", "1001")
        # A plain id: the test thread never reads records while the service runs (lab_case).
        cls.alice_partner_id = cls.alice.partner_id.id

    def setUp(self):
        super().setUp()
        self.phone = self.start_phone("1001")
        self.authenticate(self.alice.login, self.alice.login)
        self.host = self.start_service()

    def wait(self, name, count=1):
        return self.wait_for_event(self.alice_partner_id, name, count)

    def rpc(self, route, **params):
        return self.make_jsonrpc_request(route, params)

    def test_inbound_call_held_resumed_and_transferred(self):
        self.assertEqual(self.rpc("/cti/login"), {"queued": True})
        self.wait("READY")
        colleague = self.start_phone("1002", auto_answer=True)
        caller = self.sipp.uac(self.lab_pbx, "1001", caller=CALLER, until_bye=True)
        self.phone.wait_event("CALL_INCOMING")
        ringing = self.wait("RINGING")
        self.assertEqual(ringing["call"]["controls"], ["terminate"])
        time.sleep(0.5)
        self.phone.answer()
        connected = self.wait("CONNECTED")
        self.assertEqual(
            connected["call"]["controls"], ["terminate", "hold", "transfer", "consult"]
        )
        call_id = connected["call"]["id"]
        time.sleep(0.5)
        self.assertTrue(self.rpc("/cti/hold", callId=call_id)["queued"])
        self.wait("ON_HOLD")
        self.assertTrue(self.rpc("/cti/resume", callId=call_id)["queued"])
        self.wait("CONNECTED", 2)
        bad = self.rpc("/cti/transfer", callId=call_id, destination="sip:1002@evil.example")
        self.assertEqual(bad["name"], "ERROR")  # never queued, never reached the PBX
        self.assertTrue(self.rpc("/cti/transfer", callId=call_id, destination="1002")["queued"])
        hangup = self.wait("HANGUP")
        self.assertEqual(hangup["call"]["cause"], "transferred")
        self.assertEqual(hangup["call"]["transferredTo"], "1002")
        colleague.wait_event("CALL_ESTABLISHED", timeout=15)
        calls = self.finished_calls(self.alice, ("status", "transferred_to"))
        self.assertEqual(calls, [{"status": "transferred", "transferred_to": "1002"}])
        colleague.hangup()
        self.assertEqual(caller.wait(timeout=20), 0)
