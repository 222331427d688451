"""The call report's pivot view in headless Chromium, on calls logged the way the service
logs them (``cti.call._cti_record_event`` with the engine's event sequences)."""

from datetime import timedelta

from odoo import fields
from odoo.tests import HttpCase, tagged

from .common import CTI_USER_GROUPS, log_call


@tagged("post_install", "-at_install")
class TestCallReportTour(HttpCase):
    @staticmethod
    def call_start():
        """A few minutes ago, but never before this month began: the report opens on the
        current month (``search_default_start_date``), in the browser's zone, which is the
        server's (UTC) here. A fixed date went out of view when the month turned."""
        now = fields.Datetime.now()
        start = now - timedelta(minutes=3)
        if start.month != now.month:
            start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        return start

    def log_call(self, user, call_id, direction, names, talk_seconds=0):
        inbound = direction == "INBOUND"
        call = {
            "id": call_id,
            "direction": direction,
            "source": "+4930123456" if inbound else "1001",
            "destination": "1001" if inbound else "+4930123456",
            "cause": "missed" if names[-1] == "CANCEL" else "hangup",
        }
        log_call(self.env, user, call, names, self.call_start(), talk_seconds)

    def test_pivot_shows_the_logged_calls(self):
        caller = self.env["res.users"].create(
            {
                "name": "Pivot Caller",
                "login": "cti_pivot_caller",
                "groups_id": [(6, 0, [self.env.ref(g).id for g in CTI_USER_GROUPS.split(",")])],
            }
        )
        self.log_call(caller, "pivot-in", "INBOUND", ["RINGING", "CONNECTED", "HANGUP"], 60)
        self.log_call(
            caller,
            "pivot-out",
            "OUTBOUND",
            ["INITIAL", "ACCEPTED", "RINGING", "CONNECTED", "HANGUP"],
            30,
        )
        self.log_call(caller, "pivot-missed", "INBOUND", ["RINGING", "CANCEL"])
        calls = self.env["cti.call"].search([("user_id", "=", caller.id)])
        self.assertEqual(sorted(calls.mapped("duration")), [0, 30, 60])
        self.start_tour("/odoo", "cti_connector_call_pivot", login="admin", timeout=120)
