"""The softphone and the phone field's call button in headless Chromium, against the real
service host, Kamailio, baresip and SIPp.

Odoo disables the bus websocket in tests and never commits the test transaction, so no
``NOTIFY imbus`` reaches the websocket server: these tests allow the websocket and wake
every open websocket a few times a second, which then reads the bus rows the service host
wrote through the (shared, locked) test cursor, as it would after a real commit.

A tour step logging ``cti_tour:<action>`` asks the test to do what happens outside the
browser: start the service host, pick up the desk phone, take a screenshot.
"""

import threading

from odoo.addons.bus.tests.common import WebsocketCase
from odoo.tests import new_test_user, tagged

from .. import lab
from .common import CTI_USER_GROUPS, listen_to_tour_signals, wake_websockets
from .lab_case import CtiLabCase

TOUR_TIMEOUT = 180
FAR_END = "+4989555000"  # Far End GmbH's number, 089 555000 in Germany


class SoftphoneTourCase(CtiLabCase, WebsocketCase):
    """The users, records and outside world of the softphone tours."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Alice may edit contacts, as Odoo's internal users do by default; Carol only reads
        # them, so her phone fields are read-only.
        cls.alice = cls.create_cti_user(
            "cti_tour_alice", "1001", groups=f"{CTI_USER_GROUPS},base.group_partner_manager"
        )
        cls.carol = cls.create_cti_user("cti_tour_carol", "1003")
        cls.far_partner = cls.env["res.partner"].create(
            {"name": "Far End GmbH", "phone": "089 555000", "country_id": cls.germany.id}
        )
        cls.env["res.partner"].create(
            {"name": "Bob Colleague", "phone": "1002", "country_id": cls.germany.id}
        )

    def setUp(self):
        super().setUp()
        self.desk_phone = None
        self.partner_ids = {self.alice.id: self.alice.partner_id.id}
        self.host = None
        self.screenshot = None
        self.signal_errors = []
        self.caller = None  # the SIPp caller a "ring" signal starts, with these options:
        self.caller_options = {"until_bye": True}
        listen_to_tour_signals(self)
        wake_websockets(self)

    # -- the world outside the browser ---------------------------------------------------

    def far_end(self, behaviour, **options):
        far = self.sipp.uas(behaviour, **options)
        self.addCleanup(far.stop)  # the gateway port is the next test's
        return far

    def on_tour_signal(self, browser, action):
        """Runs in the browser's message thread: anything slow goes to a thread of its own."""
        if action == "start":
            # Only once the browser is logged in: while the host runs, the test thread
            # keeps off the shared test cursor, which the browser's login uses.
            self.host = self.start_service()
        elif action == "ring":
            # The Far End GmbH calls alice's extension from the PSTN.
            self.caller = self.sipp.uac(self.lab_pbx, "1001", caller=FAR_END, **self.caller_options)
            self.addCleanup(self.caller.stop)
        elif action == "answer":
            threading.Thread(target=self.answer_desk_phone, daemon=True).start()
        elif action == "screenshot":
            self.screenshot = browser.take_screenshot(prefix="softphone_")
        else:
            self.signal_errors.append(action)

    def answer_desk_phone(self):
        try:
            self.desk_phone.wait_event("CALL_INCOMING")
            self.desk_phone.answer()
        except (TimeoutError, lab.LabError) as exc:
            self.signal_errors.append(f"answer: {exc}")

    def run_tour(self, tour, url, login="cti_tour_alice"):
        self.start_tour(url, tour, login=login, timeout=TOUR_TIMEOUT)
        self.assertEqual(self.signal_errors, [])

    # -- what the server saw -------------------------------------------------------------

    def call_events(self, user):
        """(name, call) of the call events sent to ``user`` since the test began."""
        return [
            (event["name"], event["call"])
            for event in self.cti_events(self.partner_ids[user.id])
            if "call" in event
        ]

    def partner_url(self, partner):
        return f"/odoo/contacts/{partner.id}"


@tagged("post_install", "-at_install")
class TestSoftphoneTour(SoftphoneTourCase):
    def test_click_to_call_from_the_partner_form(self):
        self.desk_phone = self.start_phone("1001")
        far = self.far_end("answer", ring_s=2, hangup_after_s=3)
        self.run_tour("cti_connector_click_to_call", self.partner_url(self.far_partner))
        self.assertEqual(far.wait(), 0)
        events = self.call_events(self.alice)
        self.assertEqual(
            [name for name, _call in events],
            ["INITIAL", "ACCEPTED", "RINGING", "CONNECTED", "HANGUP"],
        )
        first_call = events[0][1]
        self.assertEqual(first_call["destination"], "+4989555000")
        self.assertEqual(first_call["partnerId"], self.far_partner.id)
        self.assertEqual(
            self.finished_calls(self.alice, ["partner_id"]), [{"partner_id": self.far_partner.id}]
        )

    def test_hold_resume_and_hang_up_from_the_softphone(self):
        self.desk_phone = self.start_phone("1001", auto_answer=True)
        far = self.far_end("reinvite", ring_s=0.5)
        self.run_tour("cti_connector_hold_and_hang_up", self.partner_url(self.far_partner))
        self.assertEqual(far.wait(), 0)
        self.assertEqual(
            [name for name, call in self.call_events(self.alice)],
            ["INITIAL", "ACCEPTED", "RINGING", "CONNECTED", "ON_HOLD", "CONNECTED", "HANGUP"],
        )
        self.assertIsNotNone(self.screenshot, "the tour asked for no screenshot")
        self.assertTrue(self.screenshot.result(timeout=10)["data"])

    def test_transfer_from_the_softphone(self):
        self.desk_phone = self.start_phone("1001", auto_answer=True)
        colleague = self.start_phone("1002", auto_answer=True)
        far = self.far_end("reinvite", ring_s=0.5)
        self.run_tour("cti_connector_transfer", self.partner_url(self.far_partner))
        colleague.wait_event("CALL_ESTABLISHED")
        self.desk_phone.wait_event("CALL_CLOSED")
        colleague.hangup()
        self.assertEqual(far.wait(), 0)
        events = self.call_events(self.alice)
        self.assertEqual(events[-1][0], "HANGUP")
        self.assertEqual(events[-1][1]["cause"], "transferred")

    def test_answer_and_hold_with_the_phones_keys(self):
        """A desk phone that takes remote-control keys (a SIPp one, as Yealink or Polycom
        phones do): the incoming call card's Answer picks it up, the softphone holds and
        resumes it; the caller hangs up."""
        phone = self.sipp.remote_control_phone(self.lab_pbx, "1001", self.LAB_USERS["1001"])
        self.addCleanup(phone.stop)
        self.caller_options = {"talk_s": 8}
        self.run_tour("cti_connector_answer_from_odoo", "/odoo")
        self.assertEqual(self.caller.wait(timeout=20), 0, self.caller.output())
        self.assertEqual(
            [name for name, _call in self.call_events(self.alice)],
            ["RINGING", "CONNECTED", "ON_HOLD", "CONNECTED", "HANGUP"],
        )
        keys = [
            line.split(":", 1)[1].strip()
            for line in phone.messages().splitlines()
            if line.startswith("Event:")
        ]
        self.assertEqual(keys, ["talk", "hold", "talk"])
        self.assertEqual(
            self.finished_calls(self.alice, ["status", "partner_id"]),
            [{"status": "answered", "partner_id": self.far_partner.id}],
        )

    def test_invalid_number_places_no_call(self):
        self.desk_phone = self.start_phone("1001")
        invites = self.lab_pbx.requests_received("INVITE")
        self.run_tour("cti_connector_invalid_number", self.partner_url(self.far_partner))
        self.assertEqual(self.lab_pbx.requests_received("INVITE"), invites)
        self.assertEqual(self.call_events(self.alice), [])
        with self.registry.cursor() as cr:
            cr.execute("SELECT name FROM cti_command WHERE user_id = %s", (self.alice.id,))
            self.assertEqual(cr.fetchall(), [])

    def test_call_button_beside_a_read_only_number(self):
        self.run_tour(
            "cti_connector_read_only_number",
            self.partner_url(self.far_partner),
            login="cti_tour_carol",
        )

    def test_users_without_account_keep_the_tel_link(self):
        new_test_user(self.env, "cti_tour_no_account", groups=CTI_USER_GROUPS)
        new_test_user(self.env, "cti_tour_no_cti", groups="base.group_user")
        for login in ("cti_tour_no_account", "cti_tour_no_cti"):
            with self.subTest(login=login):
                self.run_tour(
                    "cti_connector_no_account", self.partner_url(self.far_partner), login=login
                )


@tagged("post_install", "-at_install")
class TestSoftphoneSmallScreen(SoftphoneTourCase):
    """A phone-sized window with a touch screen: Odoo's mobile layout."""

    browser_size = "375x667"
    touch_enabled = True

    def test_call_hold_and_hang_up_on_a_small_screen(self):
        self.desk_phone = self.start_phone("1001", auto_answer=True)
        far = self.far_end("reinvite", ring_s=0.5)
        self.run_tour("cti_connector_hold_and_hang_up", self.partner_url(self.far_partner))
        self.assertEqual(far.wait(), 0)
        self.assertEqual(
            [name for name, call in self.call_events(self.alice)],
            ["INITIAL", "ACCEPTED", "RINGING", "CONNECTED", "ON_HOLD", "CONNECTED", "HANGUP"],
        )
        self.assertTrue(self.screenshot.result(timeout=10)["data"])


@tagged("post_install", "-at_install")
class TestSoftphoneTourAsterisk(SoftphoneTourCase):
    """The transfer chooser's ask-first flow on an inbound call, on Asterisk with its
    Manager Interface: the call the desk phone answered is put through to a colleague after
    a second line to them, once cancelled (back to the caller), then completed."""

    LAB_PBX = "asterisk"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.use_manager_interface()

    def bridged_with_caller(self, extension):
        """Whether Asterisk bridges ``extension``'s phone with the PSTN caller."""
        bridges = {}
        for line in self.lab_pbx.cli("core show channels concise").splitlines():
            fields = line.split("!")
            if len(fields) > 12 and fields[12]:
                bridges.setdefault(fields[12], []).append(fields[0])
        return any(
            any(name.startswith(f"PJSIP/{extension}-") for name in names)
            and any(name.startswith("PJSIP/gateway-") for name in names)
            for names in bridges.values()
        )

    def test_ask_first_transfer_of_an_inbound_call(self):
        self.desk_phone = self.start_phone("1001")
        colleague = self.start_phone("1002", auto_answer=True)
        self.run_tour("cti_connector_ask_first", "/odoo")
        lab.wait_until(lambda: self.bridged_with_caller("1002"), 10, what="caller to colleague")
        colleague.hangup()
        self.assertEqual(self.caller.wait(timeout=20), 0, self.caller.output())
        ended = [call for name, call in self.call_events(self.alice) if name == "HANGUP"]
        self.assertEqual(
            [call["cause"] for call in ended], ["cancelled", "transferred", "transferred"]
        )
        inbound = [call for call in ended if call["direction"] == "INBOUND"]
        self.assertEqual(len(inbound), 1)
        self.assertEqual(inbound[0]["transferredTo"], "1002")
        self.assertEqual(inbound[0]["source"], FAR_END)
        self.assertIsNotNone(self.screenshot, "the tour asked for no screenshot")
        self.assertTrue(self.screenshot.result(timeout=10)["data"])
