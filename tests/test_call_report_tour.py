"""The call report's pivot view in headless Chromium, on calls logged the way the service
logs them (``cti.call._cti_record_event`` with the engine's event sequences)."""

from datetime import timedelta

from odoo import fields
from odoo.tests import HttpCase, tagged

from .common import CTI_USER_GROUPS


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
        start = self.call_start()
        call = {
            "id": call_id,
            "direction": direction,
            "source": "+4930123456" if direction == "INBOUND" else "1001",
            "destination": "1001" if direction == "INBOUND" else "+4930123456",
        }
        when = start
        for name in names:
            if name in ("HANGUP", "CANCEL"):
                when += timedelta(seconds=talk_seconds)
            else:
                when += timedelta(seconds=2)
            cause = "missed" if name == "CANCEL" else "hangup"
            self.env["cti.call"]._cti_record_event(
                user, {"name": name, "call": {**call, "status": name, "cause": cause}}, when=when
            )

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
