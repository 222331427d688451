"""The line of a colleague who is not logged in to the CTI, watched by the service host on
the real Kamailio with a real desk phone: the Team tab shows it turning ringing, busy and
free, and nothing else of that colleague's happens (no message to them, no call log, no
session) until they log in themselves, when their own session takes the line over."""

from odoo.tests import tagged

from .. import lab
from ..models.cti_line_state import LINE_NOTIFICATION
from .lab_case import CtiLabCase

CALLER = "+4930123456"


@tagged("post_install", "-at_install")
class TestLineWatch(CtiLabCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.bob = cls.create_cti_user("cti_watch_bob", "1002")
        # Plain ids: the test thread never reads records while the service runs (lab_case).
        cls.bob_id = cls.bob.id
        cls.bob_partner_id = cls.bob.partner_id.id
        cls.company_id = cls.env.company.id

    def setUp(self):
        super().setUp()
        self.phone = self.start_phone("1002")
        self.host = self.start_service()

    def bob_line(self):
        """The states of bob's line pushed to the company channel since the test began."""
        states = []
        for channel, payload in self.bus_messages(LINE_NOTIFICATION):
            if payload["userId"] == self.bob_id:
                self.assertEqual(channel[1:3], ["res.company", self.company_id])
                states.append(payload["state"])
        return states

    def wait_line(self, state, count=1):
        lab.wait_until(
            lambda: self.bob_line().count(state) >= count, 20, 0.2, f"bob's line {state}"
        )

    def test_the_line_of_a_colleague_not_logged_in(self):
        self.wait_line("free")
        caller = self.sipp.uac(self.lab_pbx, "1002", caller=CALLER, talk_s=1)
        self.phone.wait_event("CALL_INCOMING")
        self.wait_line("ringing")
        self.phone.answer()
        self.wait_line("on_call")
        self.assertEqual(caller.wait(timeout=20), 0, caller.output())
        self.wait_line("free", 2)
        self.assertEqual(self.bob_line(), ["free", "ringing", "on_call", "free"])
        # Nothing else of bob's: no message to him, no call log, no session.
        self.assertEqual(self.cti_events(self.bob_partner_id), [])
        with self.registry.cursor() as cr:
            cr.execute("SELECT count(*) FROM cti_call WHERE user_id = %s", (self.bob_id,))
            self.assertEqual(cr.fetchone()[0], 0)
            cr.execute(
                "SELECT session_state, session_wanted IS TRUE FROM cti_account WHERE user_id = %s",
                (self.bob_id,),
            )
            self.assertEqual(cr.fetchone(), ("logged_out", False))
        self.assertEqual(self.host.owned_users, set())

        # Bob logs in: his own session takes the line over, and his calls are his again.
        self.authenticate("cti_watch_bob", "cti_watch_bob")
        self.assertEqual(self.make_jsonrpc_request("/cti/login"), {"queued": True})
        self.wait_for_event(self.bob_partner_id, "READY")
        self.assertEqual(self.host.owned_users, {self.bob_id})
        second = self.sipp.uac(self.lab_pbx, "1002", caller=CALLER, cancel_after_s=1)
        self.wait_for_event(self.bob_partner_id, "CANCEL")
        second.wait(timeout=20)
        names = [e["name"] for e in self.cti_events(self.bob_partner_id) if "call" in e]
        self.assertEqual(names, ["RINGING", "CANCEL"])
        self.assertEqual(self.bob_line()[-2:], ["ringing", "free"])
