"""Colleagues' line states: derived from the events the push lane writes, pushed once per
company to the CTI users of that company, each naming the party only if they may read it."""

import json

import websocket as ws_client
from odoo.addons.bus.models.bus import json_dump
from odoo.addons.bus.tests.common import WebsocketCase
from odoo.exceptions import AccessError
from odoo.tests import tagged

from ..service.push_memory import PushMemory
from .common import CtiCommon, create_cti_accounts, create_cti_users
from .test_push_events import NUMBER, ringing


def session(name, agent_state):
    return {"name": name, "message": ""}, agent_state


@tagged("post_install", "-at_install")
class TestLineState(CtiCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls.alice.company_id
        cls.branch = cls.env["res.company"].create({"name": "CTI Branch"})
        cls.alice.write({"company_ids": [(4, cls.branch.id)]})
        cls.client = cls.env["res.partner"].create(
            {"name": "Branch Client", "phone": NUMBER, "company_id": cls.branch.id}
        )

    def setUp(self):
        super().setUp()
        self.memory = PushMemory()

    def push(self, *events):
        return self.env["cti.push"]._cti_handle_events(list(events), self.memory)

    def line_payloads(self, company=None):
        channel = json_dump(
            [self.env.cr.dbname, "res.company", (company or self.company).id, "cti_line"]
        )
        rows = self.env["bus.bus"].search([("channel", "=", channel)]).sorted("id")
        messages = [json.loads(row.message) for row in rows]
        self.assertEqual({m["type"] for m in messages} - {"cti_connector/line"}, set())
        return [m["payload"] for m in messages]

    def member(self, viewer, user):
        """What ``viewer``'s Team tab says of ``user`` (None if it does not list them)."""
        team = self.env["cti.line.state"]._cti_team(viewer)
        return next((member for member in team if member["userId"] == user.id), None)

    def line(self, user):
        return self.env["cti.line.state"].search([("user_id", "=", user.id)])

    def test_a_call_turns_the_line_ringing_busy_held_and_free(self):
        channels = self.push((self.alice.id, *session("READY", "ready")))
        self.assertIn((self.env.cr.dbname, "res.company", self.company.id, "cti_line"), channels)
        self.assertEqual(self.line(self.alice).state, "free")
        for name, state in (
            ("RINGING", "ringing"),
            ("CONNECTED", "on_call"),
            ("ON_HOLD", "on_hold"),
            ("CONNECTED", "on_call"),
            ("HANGUP", "free"),
        ):
            self.push((self.alice.id, ringing("c-1", name), "ready"))
            self.assertEqual(self.line(self.alice).state, state, name)
        payloads = self.line_payloads()
        self.assertEqual(
            [p["state"] for p in payloads],
            ["free", "ringing", "on_call", "on_hold", "on_call", "free"],
        )
        self.assertEqual({p["userId"] for p in payloads}, {self.alice.id})
        self.assertEqual({p["extension"] for p in payloads}, {"2001"})
        self.assertEqual(
            [p["event"] and p["event"]["name"] for p in payloads],
            [False, "RINGING", "CONNECTED", "ON_HOLD", "CONNECTED", "HANGUP"],
        )
        # A free line keeps no call.
        self.assertFalse(self.line(self.alice).calls)
        self.assertFalse(self.line(self.alice).last_event)
        self.push((self.alice.id, *session("LOGGED_OUT", "logged_out")))
        self.assertEqual(self.line(self.alice).state, "offline")
        self.assertEqual(self.line_payloads()[-1]["state"], "offline")

    def test_each_change_counts_up_the_line_version(self):
        """A browser that hears the bus before /cti/team answers keeps the newer of both."""
        self.assertEqual(self.member(self.bob, self.alice)["version"], 0)
        self.push((self.alice.id, *session("READY", "ready")))
        self.push(
            (self.alice.id, ringing("c-1"), "ready"),
            (self.alice.id, ringing("c-1", "CONNECTED"), "ready"),
        )
        # an event that changes nothing is no new version
        self.push((self.alice.id, *session("READY", "ready")))
        self.assertEqual([p["version"] for p in self.line_payloads()], [1, 2, 3])
        self.assertEqual(self.member(self.bob, self.alice)["version"], 3)
        self.assertEqual(self.member(self.bob, self.alice)["state"], "on_call")

    def test_the_state_says_since_when(self):
        self.push((self.alice.id, ringing("c-1"), "ready"))
        since = self.line(self.alice).since
        self.assertTrue(since)
        # a second event of the same state keeps the time the line began ringing
        self.push((self.alice.id, ringing("c-1", "RINGING"), "ready"))
        self.assertEqual(self.line(self.alice).since, since)
        self.assertEqual(self.line_payloads()[-1]["since"], str(since))

    def test_a_second_call_does_not_free_the_line(self):
        self.push(
            (self.alice.id, ringing("c-1", "CONNECTED"), "ready"),
            (self.alice.id, ringing("c-2", "RINGING"), "ready"),
        )
        self.assertEqual(self.line(self.alice).state, "on_call")
        self.push((self.alice.id, ringing("c-2", "CANCEL"), "ready"))
        self.assertEqual(self.line(self.alice).state, "on_call")
        self.push((self.alice.id, ringing("c-1", "HANGUP"), "ready"))
        self.assertEqual(self.line(self.alice).state, "free")

    def test_colleagues_get_the_partner_id_never_its_name(self):
        event = ringing("c-1")
        self.push((self.alice.id, event, "ready"))
        # The owner's own event names the caller...
        self.assertEqual(event["call"]["sourceName"], "Branch Client")
        # ...the shared one does not: each browser reads the name with its user's rights.
        shared = self.line_payloads()[-1]
        self.assertEqual(shared["partnerId"], self.client.id)
        self.assertEqual(shared["event"]["call"]["partnerId"], self.client.id)
        self.assertEqual(shared["event"]["call"]["sourceName"], "")
        self.assertEqual(shared["event"]["call"]["source"], NUMBER)
        self.assertNotIn("partnerName", json.dumps(shared))
        self.assertNotIn("Branch Client", json.dumps(shared))

    def test_team_names_the_party_only_for_who_may_read_it(self):
        self.account_bob.company_id = self.company
        self.push((self.alice.id, ringing("c-1", "CONNECTED"), "ready"))
        # Bob may not read the branch's partners.
        alice_for_bob = self.member(self.bob, self.alice)
        self.assertEqual(alice_for_bob["userId"], self.alice.id)
        self.assertEqual(alice_for_bob["state"], "on_call")
        self.assertEqual(alice_for_bob["extension"], "2001")
        self.assertEqual(alice_for_bob["domain"], "example.com")
        self.assertEqual(alice_for_bob["partnerId"], self.client.id)
        self.assertFalse(alice_for_bob["partnerName"])
        self.assertEqual(alice_for_bob["event"]["name"], "CONNECTED")
        # The manager, in the branch too, may.
        self.manager.write({"company_ids": [(4, self.branch.id)]})
        alice_for_manager = self.member(self.manager, self.alice)
        self.assertEqual(alice_for_manager["partnerName"], "Branch Client")
        # Nobody is their own colleague; a colleague never seen is offline.
        self.assertNotIn(
            self.alice.id, [m["userId"] for m in self.env["cti.line.state"]._cti_team(self.alice)]
        )
        bob_for_alice = self.member(self.alice, self.bob)
        self.assertEqual(bob_for_alice["state"], "offline")

    def test_a_pbx_that_does_not_share_pushes_no_line(self):
        self.pbx.share_line_states = False
        self.push((self.alice.id, ringing("c-1"), "ready"))
        self.assertFalse(self.line(self.alice))
        self.assertEqual(self.line_payloads(), [])
        self.assertIsNone(self.member(self.bob, self.alice))

    def test_access(self):
        self.push((self.alice.id, ringing("c-1"), "ready"))
        self.assertEqual(self.env["cti.line.state"].with_user(self.manager).search_count([]), 1)
        for user in (self.alice, self.plain):
            with self.assertRaises(AccessError):
                self.env["cti.line.state"].with_user(user).search([])
        with self.assertRaises(AccessError):
            self.line(self.alice).with_user(self.manager).unlink()


@tagged("post_install", "-at_install")
class TestLineStateChannel(WebsocketCase):
    def test_only_cti_users_of_the_company_get_the_lines(self):
        pbx = self.env["cti.pbx"].create(
            {"name": "PBX", "ws_url": "ws://127.0.0.1:9", "domain": "x"}
        )
        users = create_cti_users(self.env)
        create_cti_accounts(self.env, pbx, users)
        last = self.env["bus.bus"]._bus_last_id()
        self.env["cti.push"]._cti_handle_events(
            [(users["alice"].id, ringing("c-1"), "ready")], PushMemory()
        )
        # One session at a time: a test logs the previous one out.
        for role in ("plain", "bob"):
            session = self.authenticate(users[role].login, users[role].login)
            websocket = self.websocket_connect(cookie=f"session_id={session.sid}")
            websocket.settimeout(2)
            self.subscribe(websocket, [], last)
            if role == "plain":
                with self.assertRaises(ws_client.WebSocketTimeoutException):
                    websocket.recv()
        [notification] = json.loads(websocket.recv())
        self.assertEqual(notification["message"]["type"], "cti_connector/line")
        self.assertEqual(notification["message"]["payload"]["userId"], users["alice"].id)
        self.assertEqual(notification["message"]["payload"]["state"], "ringing")
