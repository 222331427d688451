"""What a new user meets in the softphone and beside phone numbers (issue 17), in headless
Chromium at a desktop (1440×900) and a phone size (390×844).

No PBX here: the account is marked logged in and ready, commands are only queued, and the
test writes the call events the service host would send (``cti_connector/event`` on the
user's bus channel). A tour step logging ``cti_tour:<action>`` asks the test to act: send a
live call event, take a screenshot.
"""

import threading
import time
from datetime import datetime, timedelta
from unittest.mock import patch

from odoo.addons.bus.tests.common import WebsocketCase
from odoo.tests import new_test_user, tagged
from odoo.tests.common import ChromeBrowser

from .common import CTI_USER_GROUPS, listen_to_tour_signals, log_call, wake_websockets

LOGIN = "cti_ux_alice"

CONTROLS = {
    "RINGING": ["answer", "terminate"],
    "CONNECTED": ["terminate", "hold", "transfer"],
    "ON_HOLD": ["terminate", "hold", "transfer"],
}


class SoftphoneUxCase(WebsocketCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        pbx = cls.env["cti.pbx"].create(
            {
                "name": "US PBX",
                "ws_url": "ws://127.0.0.1:9",
                "domain": "pbx.test",
                "country_id": cls.env.ref("base.us").id,
            }
        )
        cls.alice = new_test_user(
            cls.env,
            LOGIN,
            name="Alice Ux",
            groups=f"{CTI_USER_GROUPS},base.group_partner_manager",
        )
        cls.bob = new_test_user(cls.env, "cti_ux_bob", name="Bob Ux", groups=CTI_USER_GROUPS)
        Account = cls.env["cti.account"]
        for user, extension in ((cls.alice, "1001"), (cls.bob, "1002")):
            Account.create(
                {
                    "user_id": user.id,
                    "pbx_id": pbx.id,
                    "username": extension,
                    "password": f"ux-{extension}",
                    "session_wanted": True,
                    "session_state": "ready",
                }
            )
        cls.spree = cls.env["res.partner"].create(
            {
                "name": "Spree Logistik GmbH",
                "is_company": True,
                "country_id": cls.env.ref("base.de").id,
                "phone": "+49 30 1234567",
                "mobile": "0151 23456789",
            }
        )
        cls.not_a_number = cls.env["res.partner"].create(
            {"name": "Mom", "phone": "call mom", "country_id": cls.env.ref("base.us").id}
        )

    def setUp(self):
        super().setUp()
        self.screenshots = []
        self.signal_errors = []
        listen_to_tour_signals(self)
        self.emulate_browser_size()
        wake_websockets(self)

    def emulate_browser_size(self):
        navigate_to = ChromeBrowser.navigate_to
        width, height = (int(size) for size in self.browser_size.replace(",", "x").split("x"))

        def navigate_at_size(browser, url, wait_stop=False):
            # Headless Chrome keeps windows at least 500 px wide: a phone's width is emulated.
            browser._websocket_request(
                "Emulation.setDeviceMetricsOverride",
                params={
                    "width": width,
                    "height": height,
                    "deviceScaleFactor": 1,
                    "mobile": self.touch_enabled,
                },
            )
            return navigate_to(browser, url, wait_stop=wait_stop)

        self.startPatcher(patch.object(ChromeBrowser, "navigate_to", navigate_at_size))

    def on_tour_signal(self, browser, action):
        if action.startswith("screenshot "):
            prefix = f"{action.split(' ', 1)[1]}_{self.browser_size.replace(',', 'x')}_"
            self.screenshots.append(browser.take_screenshot(prefix=prefix))
        elif action.startswith("send "):
            name, call_id, *source = action.split(" ")[1:]
            call = {"source": source[0]} if source else {}
            threading.Thread(target=self.send_call_event, args=(name, call_id), kwargs=call).start()
        else:
            self.signal_errors.append(action)

    def send_call_event(self, name, call_id, **call):
        """Write a call event for alice as the service host does."""
        payload = {
            "name": name,
            "call": {
                "id": call_id,
                "direction": "INBOUND",
                "source": "+14155550123",
                "destination": "1001",
                "status": name,
                # what a PBX driver that can answer and control the call offers
                "controls": CONTROLS.get(name, []),
                **call,
            },
        }
        with self.registry.cursor() as cr:
            self.env(cr=cr)["bus.bus"]._sendone(
                self.alice.partner_id, "cti_connector/event", payload
            )

    def log_call(self, call_id, names, direction="OUTBOUND", talk_seconds=0, **call):
        """A finished call in alice's call log, half an hour ago."""
        call = {"id": call_id, "direction": direction, **call}
        start = datetime.now() - timedelta(minutes=30)
        log_call(self.env, self.alice, call, names, start, talk_seconds)

    def run_tour(self, tour, url="/odoo"):
        self.start_tour(url, tour, login=LOGIN, timeout=120)
        self.assertEqual(self.signal_errors, [])
        for screenshot in self.screenshots:
            self.assertTrue(screenshot.result(timeout=10)["data"])

    def commands(self):
        self.env["cti.command"].invalidate_model()
        return self.env["cti.command"].search([("user_id", "=", self.alice.id)], order="id")


@tagged("post_install", "-at_install")
class TestSoftphoneUx(SoftphoneUxCase):
    browser_size = "1440x900"

    def test_foreign_national_number_calls_from_its_contact(self):
        self.run_tour("cti_ux_foreign_number", f"/odoo/contacts/{self.spree.id}")
        self.assertEqual(
            [command.payload["destination"] for command in self.commands()], ["+4915123456789"]
        )

    def test_a_number_error_shows_once_beside_the_number(self):
        self.run_tour("cti_ux_field_error_once", f"/odoo/contacts/{self.not_a_number.id}")
        self.assertFalse(self.commands())

    def test_a_replayed_call_does_not_open_the_panel(self):
        self.log_call(
            "old-call",
            ["RINGING", "CONNECTED", "HANGUP"],
            direction="INBOUND",
            talk_seconds=6,
            source="+14155550123",
            destination="1001",
            cause="remote hangup",
        )
        for name in ("RINGING", "CONNECTED", "HANGUP"):
            self.send_call_event(name, "old-call", cause="remote hangup")
        # the bus hands a new tab what it wrote in the last 50 seconds
        time.sleep(0.1)
        self.run_tour("cti_ux_replayed_call")

    def test_a_colleague_calls_by_name(self):
        self.run_tour("cti_ux_colleague_calls")

    def test_an_error_goes_when_the_next_call_is_placed(self):
        self.run_tour("cti_ux_error_goes")
        self.assertEqual([command.payload["destination"] for command in self.commands()], ["1002"])

    def test_last_calls_come_from_the_call_log(self):
        self.log_call(
            "logged-out",
            ["INITIAL", "ACCEPTED", "RINGING", "CONNECTED", "HANGUP"],
            talk_seconds=6,
            source="1001",
            destination="+4915123456789",
            partnerId=self.spree.id,
            cause="remote hangup",
        )
        self.log_call(
            "logged-missed",
            ["RINGING", "CANCEL"],
            direction="INBOUND",
            source="+14155550199",
            destination="1001",
            cause="missed",
        )
        self.run_tour("cti_ux_last_calls")
        self.assertEqual(
            [command.payload["destination"] for command in self.commands()], ["+14155550199"]
        )


@tagged("post_install", "-at_install")
class TestSoftphoneUxPhone(TestSoftphoneUx):
    """The same on a phone-sized touch screen."""

    browser_size = "390x844"
    touch_enabled = True
    allow_inherited_tests_method = True


@tagged("post_install", "-at_install")
class TestCallLogUx(SoftphoneUxCase):
    """The call log (CRM > Calls) reads like a list of calls, not like a database."""

    browser_size = "1440x900"

    def test_the_call_log_speaks_as_people_do(self):
        self.log_call(
            "log-out",
            ["INITIAL", "ACCEPTED", "RINGING", "CONNECTED", "HANGUP"],
            talk_seconds=268,
            source="1001",
            destination="+4915123456789",
            partnerId=self.spree.id,
            cause="remote hangup",
        )
        self.log_call(
            "log-bob",
            ["RINGING", "CONNECTED", "HANGUP"],
            direction="INBOUND",
            talk_seconds=26,
            source="1002",
            destination="1001",
            cause="local hangup",
        )
        self.log_call(
            "log-end",
            ["INITIAL", "ACCEPTED", "RINGING", "CONNECTED", "HANGUP"],
            talk_seconds=6,
            source="1001",
            destination="+4915123456789",
            cause="terminated",
        )
        self.run_tour("cti_ux_call_log", "/odoo/action-cti_connector.action_cti_call")


@tagged("post_install", "-at_install")
class TestCallLogUxPhone(TestCallLogUx):
    browser_size = "390x844"
    touch_enabled = True
    allow_inherited_tests_method = True
