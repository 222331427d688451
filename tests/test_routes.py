"""The JSON routes on their own (no PBX): what they refuse at once, and to whom."""

import json

from odoo.tests import HttpCase, new_test_user, tagged

from .common import CTI_USER_GROUPS


@tagged("post_install", "-at_install")
class TestRoutes(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pbx = cls.env["cti.pbx"].create(
            {
                "name": "PBX",
                "ws_url": "ws://127.0.0.1:9",
                "domain": "pbx.test",
                "country_id": cls.env.ref("base.de").id,
            }
        )
        cls.alice = new_test_user(cls.env, "cti_routes_alice", groups=CTI_USER_GROUPS)
        cls.account = cls.env["cti.account"].create(
            {
                "user_id": cls.alice.id,
                "pbx_id": cls.pbx.id,
                "username": "1001",
                "password": "routes-secret",
                "session_wanted": True,
            }
        )

    def commands(self):
        return self.env["cti.command"].search([("user_id", "=", self.alice.id)])

    def test_unauthenticated_calls_are_rejected(self):
        for route in ("/cti/login", "/cti/call", "/cti/terminate", "/cti/status"):
            response = self.url_open(route, data="{}", headers={"Content-Type": "application/json"})
            self.assertIn("SessionExpired", response.text, route)
        self.assertFalse(self.commands())

    def test_click_to_call_is_rate_limited(self):
        self.authenticate(self.alice.login, self.alice.login)
        results = [
            self.make_jsonrpc_request("/cti/call", {"destination": f"+49301234{i:03d}"})
            for i in range(8)
        ]
        self.assertEqual([bool(r.get("queued")) for r in results], [True] * 5 + [False] * 3)
        self.assertIn("Too many calls", results[-1]["message"])
        self.assertEqual(len(self.commands()), 5)
        self.assertEqual(self.commands().mapped("payload")[0]["destination"], "+49301234000")

    def test_web_login_starts_the_cti_session_but_an_rpc_login_does_not(self):
        self.account.write({"auto_login": True, "session_wanted": False})
        uid = self.xmlrpc_common.authenticate(
            self.env.cr.dbname, self.alice.login, self.alice.login, {}
        )
        self.assertEqual(uid, self.alice.id)
        self.assertFalse(self.account.session_wanted)
        self.authenticate(None, None)
        response = self.url_open(
            "/web/session/authenticate",
            data=json.dumps(
                {
                    "params": {
                        "db": self.env.cr.dbname,
                        "login": self.alice.login,
                        "password": self.alice.login,
                    }
                }
            ),
            headers={"Content-Type": "application/json"},
        )
        self.assertEqual(response.json()["result"]["uid"], self.alice.id)
        self.account.invalidate_recordset(["session_wanted"])
        self.assertTrue(self.account.session_wanted)

    def test_call_when_not_logged_in_to_the_cti(self):
        self.account.session_wanted = False
        self.authenticate(self.alice.login, self.alice.login)
        result = self.make_jsonrpc_request("/cti/call", {"destination": "+4930123456"})
        self.assertEqual(result["name"], "ERROR")
        self.assertFalse(self.commands())
