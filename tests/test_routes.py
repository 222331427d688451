"""The JSON routes on their own (no PBX): what they refuse at once, and to whom."""

from odoo.tests import HttpCase, new_test_user, tagged

from .common import CTI_USER_GROUPS, web_login


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

    def test_logins_and_commands_are_rate_limited(self):
        self.authenticate(self.alice.login, self.alice.login)
        results = [
            self.make_jsonrpc_request("/cti/logout" if i % 2 == 0 else "/cti/login", {})
            for i in range(11)
        ]
        self.assertEqual([r.get("queued", False) for r in results], [True] * 10 + [False])
        self.assertIn("Too many logins", results[-1]["message"])
        # Logging in while logged in costs nothing and changes nothing.
        self.account.invalidate_recordset(["session_wanted"])
        self.assertTrue(self.account.session_wanted)
        for _i in range(5):
            self.assertEqual(self.make_jsonrpc_request("/cti/login", {}), {"queued": True})
        results = [
            self.make_jsonrpc_request("/cti/hold", {"callId": f"call-{i}"}) for i in range(40)
        ]
        queued = [bool(r.get("queued")) for r in results]
        # 30 at once, then one a second earned back: most of the next ten are refused.
        self.assertEqual(queued[:30], [True] * 30)
        self.assertGreaterEqual(queued[30:].count(False), 5)
        self.assertIn("Too many requests", results[queued.index(False)]["message"])
        self.assertEqual(len(self.commands()), queued.count(True))

    def test_web_login_starts_the_cti_session_but_an_rpc_login_does_not(self):
        self.account.write({"auto_login": True, "session_wanted": False})
        uid = self.xmlrpc_common.authenticate(
            self.env.cr.dbname, self.alice.login, self.alice.login, {}
        )
        self.assertEqual(uid, self.alice.id)
        self.assertFalse(self.account.session_wanted)
        self.assertEqual(web_login(self, self.alice)["uid"], self.alice.id)
        self.account.invalidate_recordset(["session_wanted"])
        self.assertTrue(self.account.session_wanted)

    def test_call_when_not_logged_in_to_the_cti(self):
        self.account.session_wanted = False
        self.authenticate(self.alice.login, self.alice.login)
        result = self.make_jsonrpc_request("/cti/call", {"destination": "+4930123456"})
        self.assertEqual(result["name"], "ERROR")
        self.assertFalse(self.commands())

    def test_transfer_targets_are_checked_before_anything_is_queued(self):
        self.authenticate(self.alice.login, self.alice.login)
        for bad in ("sip:1002@evil.example", "1002\r\nAction: Hangup", "abc", "1" * 40, 42):
            result = self.make_jsonrpc_request(
                "/cti/transfer", {"callId": "abc123", "destination": bad, "askFirst": True}
            )
            self.assertEqual(result["name"], "ERROR", bad)
        self.assertFalse(self.commands())
        ask = self.make_jsonrpc_request(
            "/cti/transfer", {"callId": "abc123", "destination": "1002", "askFirst": True}
        )
        self.assertTrue(ask["queued"])
        done = self.make_jsonrpc_request("/cti/complete", {"callId": "abc123"})
        self.assertTrue(done["queued"])
        self.assertEqual(
            [(c.name, c.payload) for c in self.commands().sorted("id")],
            [
                ("transfer", {"callId": "abc123", "destination": "1002", "askFirst": True}),
                ("complete", {"callId": "abc123"}),
            ],
        )
