from datetime import date, datetime, timedelta

from odoo import api, sql_db
from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger
from psycopg2.errors import SerializationFailure

from ..models.cti_call import cancel_status
from .common import CtiCommon

# 22:30 UTC is already the next day in Berlin: the call-back is due on the user's day.
T0 = datetime(2024, 5, 1, 22, 30, 0)
USER_DAY = date(2024, 5, 2)
CUSTOMER = "+4930123456"


def at(seconds):
    return T0 + timedelta(seconds=seconds)


def inbound(call_id, **extra):
    return {
        "id": call_id,
        "cid": f"dialog-{call_id}",
        "direction": "INBOUND",
        "source": CUSTOMER,
        "sourceName": "Ada",
        "destination": "2001",
        "destinationName": "Alice",
        "cause": "",
        **extra,
    }


def outbound(call_id, **extra):
    return {
        **inbound(call_id, **extra),
        "direction": "OUTBOUND",
        "source": "2001",
        "sourceName": "Alice",
        "destination": CUSTOMER,
        "destinationName": "",
    }


class CallLogCommon(CtiCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.alice.tz = "Europe/Berlin"
        cls.customer = cls.env["res.partner"].create({"name": "Ada", "phone": CUSTOMER})
        cls.call_type = cls.env.ref("mail.mail_activity_data_call")

    def play(self, user, events, offset=0):
        """Record ``(name, call, seconds after T0)`` events as the service does.

        :return: the ``cti.call`` records the events landed on
        """
        calls = self.env["cti.call"]
        for name, call, seconds in events:
            calls |= self.env["cti.call"]._cti_record_event(
                user, {"name": name, "call": dict(call, status=name)}, when=at(seconds + offset)
            )
        return calls

    def calls_of(self, sip_call_id):
        return self.env["cti.call"].search([("sip_call_id", "=", sip_call_id)])

    def done_calls(self, record):
        """The "Call" activities marked done on ``record``: messages in its chatter."""
        return self.env["mail.message"].search(
            [
                ("model", "=", record._name),
                ("res_id", "=", record.id),
                ("mail_activity_type_id", "=", self.call_type.id),
            ]
        )

    def open_activities(self, record):
        return (
            self.env["mail.activity"]
            .with_context(active_test=False)
            .search([("res_model", "=", record._name), ("res_id", "=", record.id)])
        )

    def snapshot(self, call):
        fields_ = [
            "status",
            "start_date",
            "answer_date",
            "end_date",
            "duration",
            "ring_duration",
            "hangup_cause",
            "transferred_to",
            "partner_id",
            "lead_id",
            "answer_rate",
        ]
        call.invalidate_recordset()
        return call.read(fields_)

    def assert_replay_changes_nothing(self, user, events, call, *records):
        before = self.snapshot(call)
        counts = [(len(self.done_calls(r)), len(self.open_activities(r))) for r in records]
        self.play(user, events, offset=3600)
        self.play(user, events)
        self.assertEqual(self.calls_of(call.sip_call_id), call, "still one row")
        self.assertEqual(self.snapshot(call), before)
        self.assertEqual(
            [(len(self.done_calls(r)), len(self.open_activities(r))) for r in records], counts
        )


@tagged("post_install", "-at_install")
class TestCallScenarios(CallLogCommon):
    def test_inbound_answered(self):
        data = inbound("in-answered", partnerId=self.customer.id, partnerName="Ada")
        events = [("RINGING", data, 0), ("CONNECTED", data, 8), ("ON_HOLD", data, 30)]
        events += [("CONNECTED", data, 40), ("HANGUP", dict(data, cause="remote hangup"), 98)]
        call = self.play(self.alice, events)

        self.assertEqual(self.calls_of("in-answered"), call)
        self.assertRecordValues(
            call,
            [
                {
                    "direction": "inbound",
                    "status": "answered",
                    "source": CUSTOMER,
                    "destination": "2001",
                    "partner_id": self.customer.id,
                    "user_id": self.alice.id,
                    "company_id": self.alice.company_id.id,
                    "start_date": T0,
                    "answer_date": at(8),
                    "end_date": at(98),
                    "hangup_cause": "remote hangup",
                    "answer_rate": 100,
                }
            ],
        )
        self.assertAlmostEqual(call.ring_duration, 8, delta=1)
        self.assertAlmostEqual(call.duration, 90, delta=1)

        message = self.done_calls(self.customer)
        self.assertEqual(len(message), 1)
        self.assertEqual(message.author_id, self.alice.partner_id)
        self.assertIn(f"Inbound call from {CUSTOMER}", message.body)
        self.assertIn("Answered, talk time 1:30", message.body)
        self.assertFalse(self.open_activities(self.customer), "a done activity is not open")
        self.assert_replay_changes_nothing(self.alice, events, call, self.customer)

    def test_outbound_answered_from_a_lead(self):
        seller = new_test_user(
            self.env,
            "cti_test_seller",
            groups="sales_team.group_sale_salesman,cti_connector.group_cti_user",
        )
        lead = self.env["crm.lead"].create(
            {"name": "Big deal", "partner_id": self.customer.id, "user_id": seller.id}
        )
        data = outbound("out-answered", origin={"model": "crm.lead", "id": lead.id})
        events = [
            ("INITIAL", data, 0),
            ("ACCEPTED", data, 3),
            ("RINGING", data, 4),
            ("CONNECTED", data, 10),
            ("HANGUP", dict(data, cause="local hangup"), 70),
        ]
        call = self.play(seller, events)

        self.assertRecordValues(
            call,
            [
                {
                    "direction": "outbound",
                    "status": "answered",
                    "lead_id": lead.id,
                    "partner_id": self.customer.id,
                    "destination": CUSTOMER,
                    "start_date": T0,
                }
            ],
        )
        self.assertAlmostEqual(call.ring_duration, 10, delta=1)
        self.assertAlmostEqual(call.duration, 60, delta=1)
        message = self.done_calls(lead)
        self.assertEqual(len(message), 1)
        self.assertIn(f"Outbound call to {CUSTOMER}", message.body)
        self.assertFalse(self.done_calls(self.customer), "logged once, on the lead")
        self.assertEqual(lead.with_user(seller).cti_call_count, 1)
        action = lead.with_user(seller).action_view_cti_calls()
        self.assertEqual(self.env["cti.call"].with_user(seller).search(action["domain"]), call)
        self.assert_replay_changes_nothing(seller, events, call, lead, self.customer)

    def test_inbound_missed_leaves_a_call_back_on_the_partner(self):
        data = inbound("in-missed", partnerId=self.customer.id)
        events = [("RINGING", data, 0), ("CANCEL", dict(data, cause="missed"), 25)]
        call = self.play(self.alice, events)

        self.assertRecordValues(
            call,
            [{"status": "missed", "answer_date": False, "end_date": at(25), "answer_rate": 0}],
        )
        self.assertAlmostEqual(call.ring_duration, 25, delta=1)
        self.assertEqual(call.duration, 0)
        activity = self.open_activities(self.customer)
        self.assertRecordValues(
            activity,
            [
                {
                    "activity_type_id": self.call_type.id,
                    "summary": f"Call back {CUSTOMER}",
                    "user_id": self.alice.id,
                    "date_deadline": USER_DAY,
                }
            ],
        )
        self.assertFalse(self.done_calls(self.customer))
        self.assert_replay_changes_nothing(self.alice, events, call, self.customer)

    def test_unknown_missed_caller_leaves_a_call_back_on_the_call(self):
        data = inbound("in-missed-unknown", source="+4930999000")
        call = self.play(
            self.alice, [("RINGING", data, 0), ("CANCEL", dict(data, cause="missed"), 12)]
        )
        self.assertFalse(call.partner_id)
        self.assertEqual(call.activity_ids.summary, "Call back +4930999000")
        self.assertEqual(call.activity_ids.user_id, self.alice)
        # the user only reads the call, yet does their call-back
        call.activity_ids.with_user(self.alice).action_feedback(feedback="Called back")
        self.assertFalse(call.activity_ids)
        self.assertEqual(len(self.done_calls(call)), 1)

    def test_outbound_busy(self):
        data = outbound("out-busy", partnerId=self.customer.id)
        events = [("INITIAL", data, 0), ("ACCEPTED", data, 2), ("RINGING", data, 3)]
        events.append(("CANCEL", dict(data, cause="busy"), 5))
        call = self.play(self.alice, events)

        self.assertRecordValues(
            call, [{"status": "busy", "hangup_cause": "busy", "answer_date": False}]
        )
        self.assertAlmostEqual(call.ring_duration, 5, delta=1)
        self.assertEqual(call.duration, 0)
        message = self.done_calls(self.customer)
        self.assertEqual(len(message), 1, "an attempt to call out is logged too")
        self.assertIn("Busy, talk time 0:00", message.body)
        self.assertIn("Cause: busy", message.body)
        self.assertFalse(self.open_activities(self.customer), "no call-back for own attempts")
        self.assert_replay_changes_nothing(self.alice, events, call, self.customer)

    def test_transferred(self):
        data = inbound("in-transferred", partnerId=self.customer.id)
        final = dict(data, cause="transferred", transferredTo="2002")
        events = [("RINGING", data, 0), ("CONNECTED", data, 5), ("HANGUP", final, 35)]
        call = self.play(self.alice, events)

        self.assertRecordValues(
            call,
            [{"status": "transferred", "transferred_to": "2002", "answer_rate": 100}],
        )
        self.assertAlmostEqual(call.duration, 30, delta=1)
        message = self.done_calls(self.customer)
        self.assertEqual(len(message), 1)
        self.assertIn("Transferred to 2002", message.body)
        self.assert_replay_changes_nothing(self.alice, events, call, self.customer)

    def test_own_phone_never_answered_is_cancelled(self):
        data = outbound("out-own-phone", partnerId=self.customer.id)
        cancel = dict(data, cause="phone not answered")
        call = self.play(self.alice, [("INITIAL", data, 0), ("CANCEL", cancel, 30)])
        self.assertEqual(call.status, "cancelled")
        self.assertEqual(len(self.done_calls(self.customer)), 1)

    def test_answered_elsewhere_is_not_a_missed_call(self):
        data = inbound("in-elsewhere", partnerId=self.customer.id)
        cancel = dict(data, cause="answered elsewhere")
        call = self.play(self.alice, [("RINGING", data, 0), ("CANCEL", cancel, 4)])
        self.assertEqual(call.status, "cancelled")
        self.assertFalse(self.done_calls(self.customer))
        self.assertFalse(self.open_activities(self.customer))


@tagged("post_install", "-at_install")
class TestRecordEvent(CallLogCommon):
    def test_every_event_twice_is_one_call(self):
        data = inbound("in-doubled", partnerId=self.customer.id)
        events = [("RINGING", data, 0), ("CONNECTED", data, 6)]
        events.append(("HANGUP", dict(data, cause="hangup"), 66))
        call = self.play(self.alice, [event for event in events for _copy in (1, 2)])
        self.assertEqual(self.calls_of("in-doubled"), call)
        self.assertEqual((call.status, call.ring_duration, call.duration), ("answered", 6, 60))
        self.assertEqual(len(self.done_calls(self.customer)), 1)

    def test_calls_in_progress_are_handed_to_the_next_agent(self):
        """A service restart mid-call: the new agent gets the calls still open in the log,
        so that a PBX without per-call ids continues them under the same id."""
        ringing, talking, ended = inbound("open-1"), outbound("open-2"), inbound("ended-3")
        self.play(self.alice, [("RINGING", ringing, 0), ("RINGING", talking, 5)])
        self.play(self.alice, [("CONNECTED", talking, 9), ("RINGING", ended, 10)])
        self.play(self.alice, [("CANCEL", dict(ended, cause="missed"), 20)])
        open_calls = self.env["cti.call"]._cti_open_calls(self.alice | self.bob)
        mine = [c for c in open_calls[self.alice.id] if c["id"] in ("open-1", "open-2", "ended-3")]
        self.assertEqual(
            mine,
            [
                {
                    "id": "open-1",
                    "direction": "INBOUND",
                    "source": CUSTOMER,
                    "destination": "2001",
                    "status": "RINGING",
                },
                {
                    "id": "open-2",
                    "direction": "OUTBOUND",
                    "source": "2001",
                    "destination": CUSTOMER,
                    "status": "CONNECTED",
                },
            ],
        )

    def test_a_second_final_event_changes_nothing(self):
        data = inbound("in-two-ends", partnerId=self.customer.id)
        call = self.play(
            self.alice,
            [
                ("RINGING", data, 0),
                ("CONNECTED", data, 2),
                ("HANGUP", dict(data, cause="hangup"), 12),
                ("CANCEL", dict(data, cause="ended while the connection was down"), 40),
            ],
        )
        self.assertEqual(
            (call.status, call.end_date, call.hangup_cause), ("answered", at(12), "hangup")
        )
        self.assertEqual(len(self.done_calls(self.customer)), 1)

    def test_a_late_first_event_moves_the_start(self):
        data = outbound("out-late-initial")
        call = self.play(self.alice, [("RINGING", data, 5), ("INITIAL", data, 0)])
        self.assertEqual((call.start_date, call.status), (T0, "ringing"))

    def test_one_row_per_user_of_the_same_call(self):
        data = inbound("ring-group")
        alice_call = self.play(self.alice, [("RINGING", data, 0)])
        bob_call = self.play(self.bob, [("RINGING", data, 0)])
        self.assertNotEqual(alice_call, bob_call)
        self.assertEqual(self.calls_of("ring-group"), alice_call | bob_call)

    @mute_logger("odoo.addons.cti_connector.models.cti_call_events")
    def test_activity_events_and_garbage_are_ignored(self):
        Call = self.env["cti.call"]
        count = Call.search_count([])
        for payload in (
            {"name": "LOGGED_IN", "message": ""},
            {"name": "ERROR", "message": "bad number"},
            {"name": "RINGING", "call": {"direction": "INBOUND"}},
            {"name": "RINGING", "call": {"id": "x", "direction": "SIDEWAYS"}},
            {"name": "NONSENSE", "call": inbound("nonsense")},
        ):
            with self.subTest(payload=payload):
                self.assertFalse(Call._cti_record_event(self.alice, payload))
        self.assertEqual(Call.search_count([]), count)

    def test_links_only_what_exists_and_the_user_may_read(self):
        lead = self.env["crm.lead"].create({"name": "Not alice's business"})
        data = inbound("in-bad-links", partnerId=10**9, leadId=lead.id)
        data["origin"] = {"model": "res.users", "id": self.bob.id}
        call = self.play(self.alice, [("RINGING", data, 0)])
        self.assertFalse(call.partner_id)
        self.assertFalse(call.lead_id, "alice is no salesperson: she may not read leads")

    def test_cancel_causes(self):
        expected = {
            ("inbound", "missed"): "missed",
            ("inbound", "rejected"): "missed",
            ("inbound", "answered elsewhere"): "cancelled",
            ("inbound", "ended while the connection was down"): "missed",
            ("outbound", "busy"): "busy",
            ("outbound", "rejected"): "busy",
            ("outbound", "no answer"): "cancelled",
            ("outbound", "cancelled"): "cancelled",
            ("outbound", "terminated"): "cancelled",
            ("outbound", "phone busy"): "cancelled",
            ("outbound", "phone declined"): "cancelled",
            ("outbound", "phone not answered"): "cancelled",
            ("outbound", "phone unreachable"): "cancelled",
            ("outbound", "not found"): "failed",
            ("outbound", "failed (503)"): "failed",
            ("outbound", "ended while the connection was down"): "failed",
        }
        for (direction, cause), status in expected.items():
            with self.subTest(direction=direction, cause=cause):
                self.assertEqual(cancel_status(direction, cause), status)

    @mute_logger("odoo.sql_db")
    def test_concurrent_first_events_make_one_row(self):
        """Two nodes record the first event of the same call at the same time: the one
        that loses the race gets a retryable error, never a second row, and its retry
        finds the row of the winner."""
        admin_id = self.env.ref("base.user_admin").id
        sip_call_id = "race-between-nodes"
        payload = {"name": "RINGING", "call": inbound(sip_call_id)}
        db = sql_db.db_connect(self.env.cr.dbname)

        def record(cr):
            env = api.Environment(cr, api.SUPERUSER_ID, {})
            return env["cti.call"]._cti_record_event(env["res.users"].browse(admin_id), payload)

        try:
            with db.cursor() as node_a, db.cursor() as node_b:
                node_b.execute("SELECT 1")  # node B's transaction and snapshot begin
                first = record(node_a).id
                node_a.commit()
                with self.assertRaises(SerializationFailure):
                    record(node_b)
                node_b.rollback()
                self.assertEqual(record(node_b).id, first)
                node_b.commit()
                node_b.execute(
                    "SELECT count(*) FROM cti_call WHERE sip_call_id = %s", [sip_call_id]
                )
                self.assertEqual(node_b.fetchone()[0], 1)
        finally:
            with db.cursor() as cleanup:
                cleanup.execute("DELETE FROM cti_call WHERE sip_call_id = %s", [sip_call_id])


@tagged("post_install", "-at_install")
class TestCallLogAccess(CallLogCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.alice_in, cls.bob_in = (
            cls.missed_call(user, f"{user.login}-in") for user in (cls.alice, cls.bob)
        )

    @classmethod
    def missed_call(cls, user, sip_call_id):
        data = inbound(sip_call_id, partnerId=cls.customer.id, cause="missed")
        cls.env["cti.call"]._cti_record_event(user, {"name": "RINGING", "call": data}, when=T0)
        return cls.env["cti.call"]._cti_record_event(
            user, {"name": "CANCEL", "call": data}, when=at(9)
        )

    def test_user_sees_own_calls_on_the_partner(self):
        customer = self.customer.with_user(self.alice)
        self.assertEqual(customer.cti_call_count, 1)
        action = customer.action_view_cti_calls()
        self.assertEqual(
            self.env["cti.call"].with_user(self.alice).search(action["domain"]), self.alice_in
        )
        with self.assertRaises(AccessError):
            self.bob_in.with_user(self.alice).read(["status"])

    def test_user_does_own_call_back(self):
        activity = self.open_activities(self.customer).filtered(lambda a: a.user_id == self.alice)
        activity.with_user(self.alice).action_feedback(feedback="Called back, all good")
        self.assertFalse(activity.exists())
        self.assertEqual(len(self.done_calls(self.customer)), 1)

    def test_manager_sees_all_calls_of_a_company_partner(self):
        company = self.env["res.partner"].create({"name": "Ada Corp", "is_company": True})
        self.customer.parent_id = company
        self.assertEqual(company.with_user(self.manager).cti_call_count, 2)
        action = company.with_user(self.manager).action_view_cti_calls()
        self.assertEqual(
            self.env["cti.call"].with_user(self.manager).search(action["domain"]),
            self.alice_in | self.bob_in,
        )

    def test_no_call_count_outside_cti(self):
        with self.assertRaises(AccessError):
            self.customer.with_user(self.plain).read(["cti_call_count"])
        self.assertEqual(self.customer.with_user(self.plain).read(["name"])[0]["name"], "Ada")

    def test_user_cannot_record_events(self):
        with self.assertRaises(AccessError):
            self.env["cti.call"].with_user(self.alice)._cti_record_event(
                self.alice, {"name": "RINGING", "call": inbound("forged")}
            )
