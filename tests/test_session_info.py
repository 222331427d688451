import json
import os

from odoo.tests import HttpCase, tagged
from odoo.tools.misc import file_path

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

    def test_the_web_client_gets_the_shared_terms(self):
        """The terms the engine defines reach the web client once, with the session state
        labels in the user's language; no JavaScript file keeps a copy of those lists."""
        user = self.users["alice"]
        self.authenticate(user.login, user.login + "x" * (8 - len(user.login)))
        response = self.url_open(
            "/web/session/get_session_info",
            data=json.dumps({"jsonrpc": "2.0", "method": "call", "params": {}}),
            headers={"Content-Type": "application/json"},
        )
        terms = response.json()["result"]["cti_vocabulary"]
        self.assertEqual(terms["finalEvents"], ["HANGUP", "CANCEL"])
        self.assertEqual(terms["callEvents"][:3], ["INITIAL", "ACCEPTED", "RINGING"])
        self.assertEqual(
            terms["controls"], ["answer", "terminate", "hold", "transfer", "consult", "complete"]
        )
        self.assertEqual(
            terms["referenceCallKeys"],
            [
                "id",
                "cid",
                "cause",
                "direction",
                "destination",
                "destinationName",
                "source",
                "sourceName",
                "status",
            ],
        )
        self.assertEqual(set(terms["sessionStateLabels"]), set(terms["sessionStates"]))
        self.assertEqual(terms["sessionStateLabels"]["failed"], "Failed")
        static = file_path("cti_connector/static/src")
        for folder, _dirs, files in os.walk(static):
            for name in files:
                if not name.endswith(".js") or name == "vocabulary.js":
                    continue
                with open(os.path.join(folder, name), encoding="utf-8") as file:
                    source = file.read()
                for copy in (
                    '["HANGUP", "CANCEL"]',
                    '"reconnecting", "failed"',
                    '"answered", "transferred"',
                    '"destinationName",',
                ):
                    self.assertNotIn(copy, source, f"{name} copies a list of vocabulary.js")
