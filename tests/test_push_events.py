"""The push transaction of the service host (``cti.push._cti_handle_events``): what a
burst of events writes to the bus, and who each call is said to be with."""

import json

from odoo.addons.bus.models.bus import json_dump
from odoo.tests import tagged

from ..service.push_memory import PushMemory
from .common import CtiCommon

NUMBER = "+49 30 5550 1234"


def ringing(call_id, name="RINGING", source=NUMBER):
    return {
        "name": name,
        "call": {
            "id": call_id,
            "cid": f"{call_id}@pbx",
            "direction": "INBOUND",
            "source": source,
            "sourceName": "",
            "destination": "2001",
            "destinationName": "",
            "status": name,
            "cause": "",
        },
    }


@tagged("post_install", "-at_install")
class TestPushEvents(CtiCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.branch = cls.env["res.company"].create({"name": "CTI Branch"})
        cls.alice.write({"company_ids": [(4, cls.branch.id)]})
        cls.client = cls.env["res.partner"].create(
            {"name": "Branch Client", "phone": NUMBER, "company_id": cls.branch.id}
        )

    def push(self, events, memory):
        return self.env["cti.push"]._cti_handle_events(events, memory)

    def bus_payloads(self, user):
        rows = self.env["bus.bus"].search(
            [("channel", "=", json_dump([self.env.cr.dbname, "res.partner", user.partner_id.id]))]
        )
        return [json.loads(row.message)["payload"] for row in rows.sorted("id")]

    def test_one_batch_looks_up_each_user_with_their_own_rights(self):
        memory = PushMemory()
        to_alice, to_bob = ringing("c-alice"), ringing("c-bob")
        channels = self.push(
            [(self.alice.id, to_alice, "ready"), (self.bob.id, to_bob, "ready")], memory
        )
        self.assertEqual(to_alice["call"]["partnerId"], self.client.id)
        self.assertEqual(to_alice["call"]["sourceName"], "Branch Client")
        # Bob may not read the branch's partners: nothing about the caller reaches him.
        self.assertFalse(to_bob["call"].get("partnerId"))
        self.assertFalse(to_bob["call"].get("partnerName"))
        self.assertFalse(to_bob["call"]["sourceName"])
        self.assertEqual(
            channels,
            [
                (self.env.cr.dbname, "res.partner", self.alice.partner_id.id),
                (self.env.cr.dbname, "res.partner", self.bob.partner_id.id),
                # their line states, once for their company's colleagues (test_line_state)
                (self.env.cr.dbname, "res.company", self.env.company.id, "cti_line"),
            ],
        )
        self.assertEqual(self.bus_payloads(self.alice), [to_alice])
        self.assertEqual(self.bus_payloads(self.bob), [to_bob])
        # Pushing is not logging: the call log is written by the log lane.
        self.assertFalse(self.env["cti.call"].search([("sip_call_id", "in", ["c-alice", "c-bob"])]))

    def test_later_events_of_a_call_keep_its_party(self):
        memory = PushMemory()
        self.push([(self.alice.id, ringing("c-1"), "ready")], memory)
        self.assertIn((self.alice.id, "c-1"), memory.parties)
        # The partner's number changes mid-call: the call is still with who it was.
        self.client.phone = "+49 30 5550 9999"
        connected = ringing("c-1", "CONNECTED")
        self.push([(self.alice.id, connected, "ready")], memory)
        self.assertEqual(connected["call"]["partnerId"], self.client.id)
        hangup = ringing("c-1", "HANGUP")
        self.push([(self.alice.id, hangup, "ready")], memory)
        self.assertEqual(hangup["call"]["partnerId"], self.client.id)
        self.assertNotIn((self.alice.id, "c-1"), memory.parties)

    def test_a_call_logged_before_a_restart_keeps_its_party(self):
        self.env["cti.call"]._cti_record_event(
            self.alice, {**ringing("c-2"), "call": {**ringing("c-2")["call"], "partnerId": 0}}
        )
        logged = self.env["cti.call"].search([("sip_call_id", "=", "c-2")])
        logged.partner_id = self.client
        self.client.phone = False
        # A new process (empty memory) sees the call connect: the log says who it is with.
        connected = ringing("c-2", "CONNECTED")
        self.push([(self.alice.id, connected, "ready")], PushMemory())
        self.assertEqual(connected["call"]["partnerId"], self.client.id)
        self.assertEqual(connected["call"]["partnerName"], "Branch Client")

    def test_session_events_update_the_account(self):
        memory = PushMemory()
        self.push(
            [
                (self.alice.id, {"name": "LOGGED_IN", "message": ""}, "connecting"),
                (self.alice.id, {"name": "READY", "message": ""}, "ready"),
                (self.bob.id, {"name": "ERROR", "message": "wrong password"}, "failed"),
            ],
            memory,
        )
        self.assertEqual(self.account_alice.session_state, "ready")
        self.assertEqual(self.account_bob.session_state, "failed")
        self.assertEqual(self.account_bob.session_message, "wrong password")
        self.assertEqual(
            [payload["name"] for payload in self.bus_payloads(self.alice)],
            ["LOGGED_IN", "READY"],
        )

    def test_changed_access_rights_are_seen_at_once(self):
        memory = PushMemory()
        self.push([(self.bob.id, ringing("c-3"), "ready")], memory)
        self.assertIn(self.bob.id, memory.visibility)
        self.bob.write({"company_ids": [(4, self.branch.id)]})
        # As at the end of a request: the caches' change is signalled.
        self.env.registry.signal_changes()
        to_bob = ringing("c-4")
        self.push([(self.bob.id, to_bob, "ready")], memory)
        self.assertEqual(to_bob["call"]["partnerId"], self.client.id)

    def test_a_logged_partner_the_user_may_not_read_is_not_pushed(self):
        """A call already in the log (a restart, another node) is linked to a partner the
        user cannot read (e.g. found through a lead's contact): its events name nobody."""
        self.create_call(
            self.bob, "c-logged", direction="inbound", source=NUMBER, partner_id=self.client.id
        )
        event = ringing("c-logged", name="CONNECTED")
        self.push([(self.bob.id, event, "ready")], PushMemory())
        self.assertFalse(event["call"].get("partnerId"))
        self.assertFalse(event["call"].get("partnerName"))
        self.assertNotIn("Branch Client", json.dumps(self.bus_payloads(self.bob)))
        # ... while the user who may read it gets the name, as before.
        self.create_call(
            self.alice, "c-logged", direction="inbound", source=NUMBER, partner_id=self.client.id
        )
        event = ringing("c-logged", name="CONNECTED")
        self.push([(self.alice.id, event, "ready")], PushMemory())
        self.assertEqual(event["call"]["partnerName"], "Branch Client")
