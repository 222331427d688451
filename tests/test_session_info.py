import json

from odoo.tests import HttpCase, tagged

from .common import create_cti_accounts, create_cti_users


@tagged("post_install", "-at_install")
class TestSessionInfo(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        pbx = cls.env["cti.pbx"].create({"name": "P", "ws_url": "ws://127.0.0.1", "domain": "p"})
        cls.users = create_cti_users(cls.env)
        create_cti_accounts(cls.env, pbx, cls.users)

    def test_sip_password_never_in_session_info(self):
        for role in ("alice", "manager"):
            with self.subTest(role=role):
                user = self.users[role]
                self.authenticate(user.login, user.login + "x" * (8 - len(user.login)))
                response = self.url_open(
                    "/web/session/get_session_info",
                    data=json.dumps({"jsonrpc": "2.0", "method": "call", "params": {}}),
                    headers={"Content-Type": "application/json"},
                )
                self.assertEqual(response.status_code, 200)
                self.assertEqual(response.json()["result"]["uid"], user.id)
                self.assertNotIn("alice-sip-secret", response.text)
                self.assertNotIn("bob-sip-secret", response.text)
