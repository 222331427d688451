"""A call as the user lives it on the record it is about (issue 17), in headless Chromium at
a desktop (1440×900) and a phone size (390×844): the screen pop and the incoming call card
share the screen with the caller's form, and the call logged after it ends shows on the
form that is open, without a reload.

No PBX, as in ``test_softphone_ux_tour``: the test writes the call events the service host
would push, and logs the call as its log lane does once the call is over.
"""

import threading
from datetime import datetime, timedelta

from odoo import SUPERUSER_ID, api
from odoo.tests import tagged

from .common import log_call
from .test_softphone_ux_tour import SoftphoneUxCase

ADA_NUMBER = "+14155550123"
UNKNOWN_NUMBER = "+14155550199"
TALK_SECONDS = 6
LOGGED_EVENTS = ("INITIAL", "ACCEPTED", "RINGING", "CONNECTED", "HANGUP")


class LiveCallUxCase(SoftphoneUxCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ada = cls.env["res.partner"].create(
            {
                "name": "Ada Lovelace",
                "phone": "+1 415 555 0123",
                "email": "ada@example.com",
                "country_id": cls.env.ref("base.us").id,
            }
        )

    def caller(self, who):
        if who == "ada":
            return {
                "source": ADA_NUMBER,
                "partnerId": self.ada.id,
                "partnerName": self.ada.name,
            }
        return {"source": UNKNOWN_NUMBER}

    def on_tour_signal(self, browser, action):
        """Besides the signals of SoftphoneUxCase:

        - ``event NAME CALL_ID WHO``: a call event of an inbound call from WHO (``ada`` or
          ``unknown``);
        - ``talk CALL_ID``: the call alice placed to Ada from her form goes through;
        - ``hang-up CALL_ID``: the far end hangs up it; its log follows as the log lane's.
        """
        verb, *args = action.split(" ")
        if verb == "event":
            name, call_id, who = args
            work, kwargs = self.send_call_event, self.caller(who)
            args = (name, call_id)
        elif verb == "talk":
            work, kwargs = self.talk, {}
        elif verb == "hang-up":
            work, kwargs = self.hang_up_and_log, {}
        else:
            return super().on_tour_signal(browser, action)
        threading.Thread(target=work, args=args, kwargs=kwargs).start()

    def outbound(self, call_id):
        return {
            "id": call_id,
            "direction": "OUTBOUND",
            "source": "1001",
            "destination": ADA_NUMBER,
            "partnerId": self.ada.id,
            "partnerName": self.ada.name,
            "origin": {"model": "res.partner", "id": self.ada.id},
        }

    def push(self, env, name, call):
        env["bus.bus"]._sendone(
            self.alice.partner_id, "cti_connector/event", {"name": name, "call": call}
        )

    def talk(self, call_id):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            for name in ("INITIAL", "ACCEPTED", "RINGING", "CONNECTED"):
                self.push(env, name, {**self.outbound(call_id), "status": name})

    def hang_up_and_log(self, call_id):
        """The HANGUP pushed, then the call logged in a transaction of its own, as the
        service host's log lane does it: a moment later, with the times of the events."""
        call = {**self.outbound(call_id), "status": "HANGUP", "cause": "remote hangup"}
        with self.registry.cursor() as cr:
            self.push(api.Environment(cr, SUPERUSER_ID, {}), "HANGUP", call)
        # its four events two seconds apart, then the talk, ending now
        start = datetime.now() - timedelta(seconds=8 + TALK_SECONDS)
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            alice = env["res.users"].browse(self.alice.id)
            log_call(env, alice, call, LOGGED_EVENTS, start, TALK_SECONDS)


@tagged("post_install", "-at_install")
class TestLiveCallUx(LiveCallUxCase):
    browser_size = "1440x900"

    def test_the_call_shows_on_the_open_form_once_logged(self):
        self.run_tour("cti_ux_call_in_chatter", f"/odoo/contacts/{self.ada.id}")
        self.assertEqual(
            [command.payload["destination"] for command in self.commands()], [ADA_NUMBER]
        )
        self.ada.invalidate_recordset()
        self.assertEqual(self.ada.cti_call_count, 1)

    def test_the_incoming_call_leaves_the_popped_form_readable(self):
        self.run_tour("cti_ux_incoming_call_card")
        self.assertEqual(
            [(command.name, command.payload["callId"]) for command in self.commands()],
            [("answer", "pop-ada"), ("terminate", "pop-ada")],
        )


@tagged("post_install", "-at_install")
class TestLiveCallUxPhone(TestLiveCallUx):
    """The same on a phone-sized touch screen."""

    browser_size = "390x844"
    touch_enabled = True
    allow_inherited_tests_method = True
