"""Screen pop tours: the lab PBX rings the user, the page in headless Chrome reacts.

SIPp calls the user's extension through Kamailio, the desk phone (baresip) rings, the
service host (started by the test) turns the dialog event into a RINGING on the bus, and
the web client in Chrome pops the caller. A tour says when it is ready for the call by
logging ``RING_SIGNAL``; the browser class below watches the console for it.
"""

import itertools
import json
import threading
import time
from unittest.mock import patch

import requests
import websocket
from odoo.addons.bus.tests.common import WebsocketCase
from odoo.exceptions import AccessError
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tests.common import HOST, ChromeBrowser

from .common import CTI_USER_GROUPS, wake_websockets
from .lab_case import CtiLabCase

LOGIN = "cti_pop_alice"
RING_SIGNAL = "cti_screen_pop_tour: ring"
# What a tab shows when it has popped a partner: the name on an open form.
FORM_NAMES_JS = (
    "JSON.stringify([...document.querySelectorAll("
    "\".o_form_view .o_field_widget[name='name'] input\")].map((input) => input.value))"
)


class BrowserTab:
    """Another window of the same Chrome (same cookies, localStorage and IndexedDB),
    driven over its own DevTools connection. A window rather than a tab of the first
    window: headless Chrome hides a tab behind the active one, and a hidden page neither
    renders nor runs the tour's animation frames."""

    def __init__(self, browser, url):
        self.devtools = f"http://{HOST}:{browser.devtools_port}"
        version = requests.get(f"{self.devtools}/json/version", timeout=10).json()
        control = websocket.create_connection(
            version["webSocketDebuggerUrl"], suppress_origin=True, timeout=10
        )
        try:
            control.send(
                json.dumps(
                    {
                        "id": 1,
                        "method": "Target.createTarget",
                        "params": {"url": url, "newWindow": True},
                    }
                )
            )
            self.target_id = json.loads(control.recv())["result"]["targetId"]
        finally:
            control.close()
        target = next(
            target
            for target in requests.get(f"{self.devtools}/json/list", timeout=10).json()
            if target["id"] == self.target_id
        )
        self.ws = websocket.create_connection(
            target["webSocketDebuggerUrl"], suppress_origin=True, timeout=10
        )
        self.ids = itertools.count(1)
        self.errors = []
        self.request("Runtime.enable")

    def request(self, method, **params):
        request_id = next(self.ids)
        self.ws.send(json.dumps({"id": request_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == request_id:
                return message.get("result", {})
            if message.get("method") == "Runtime.exceptionThrown":
                self.errors.append(message["params"]["exceptionDetails"].get("text"))
            elif message.get("method") == "Runtime.consoleAPICalled":
                if message["params"]["type"] == "error":
                    self.errors.append(str(message["params"]["args"]))

    def evaluate(self, expression):
        result = self.request(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        return result.get("result", {}).get("value")

    def wait_for(self, expression, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.evaluate(f"try {{ Boolean({expression}) }} catch {{ false }}"):
                return
            time.sleep(0.2)
        raise AssertionError(f"the second tab never got {expression}")

    def close(self):
        self.ws.close()
        requests.get(f"{self.devtools}/json/close/{self.target_id}", timeout=5)


class ScreenPopBrowser(ChromeBrowser):
    """Chrome as HttpCase drives it, and: a tour's ``RING_SIGNAL`` makes the lab call the
    user; with ``test_case.second_tab``, another tab of the web client is open (and ready)
    before the tour starts in the first, and each tab's open forms are noted at the end."""

    def _handle_console(self, type, args=None, stackTrace=None, **kw):  # noqa: A002
        if type == "log" and args and self._from_remoteobject(args[0]) == RING_SIGNAL:
            threading.Thread(target=self.test_case.ring, name="cti tour ring").start()
        return super()._handle_console(type, args=args, stackTrace=stackTrace, **kw)

    def navigate_to(self, url, wait_stop=False):
        if self.test_case.second_tab:
            self.other_tab = BrowserTab(self, url)
            # The web client is up, its services (the bus, the cti service) started.
            self.other_tab.wait_for(
                "odoo.__WOWL_DEBUG__ && document.querySelector('.o_main_navbar')"
            )
        return super().navigate_to(url, wait_stop=wait_stop)

    def stop(self):
        other = getattr(self, "other_tab", None)
        if other:
            result = self._websocket_request(
                "Runtime.evaluate", params={"expression": FORM_NAMES_JS, "returnByValue": True}
            )
            self.test_case.forms_by_tab = [
                json.loads(result["result"]["value"]),
                json.loads(other.evaluate(FORM_NAMES_JS)),
            ]
            self.test_case.other_tab_errors = other.errors
            other.close()
        return super().stop()


@tagged("post_install", "-at_install")
class TestScreenPopTour(CtiLabCase, WebsocketCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user = new_test_user(
            cls.env,
            LOGIN,
            groups=CTI_USER_GROUPS + ",sales_team.group_sale_salesman",
            name="Alice Pop",
        )
        # Plain values: while the service host runs, reading a field of cls.user could
        # query the shared test cursor.
        cls.user_id = cls.user.id
        cls.partner_id = cls.user.partner_id.id
        cls.env["cti.account"].create(
            {
                "user_id": cls.user.id,
                "pbx_id": cls.pbx.id,
                "username": "1001",
                "password": cls.LAB_USERS["1001"],
            }
        )
        germany = cls.germany.id
        cls.env["res.partner"].create(
            {"name": "Erika Mustermann", "phone": "030 123456", "country_id": germany}
        )
        company = cls.env["res.partner"].create(
            {
                "name": "Schmidt GmbH",
                "is_company": True,
                "phone": "089 7654321",
                "country_id": germany,
            }
        )
        cls.env["res.partner"].create(
            {"name": "Hans Schmidt", "parent_id": company.id, "phone": "089 7654321"}
        )

    def setUp(self):
        super().setUp()
        self.caller = None
        self.calls = []
        self.second_tab = False
        self.forms_by_tab = None
        self.other_tab_errors = []
        self.phone = self.start_phone("1001")
        # The session is made before the service starts: while it runs, the test thread
        # keeps off the shared test cursor except through registry.cursor(), which is
        # locked. authenticate() below hands this session to the browser.
        self.user_session = super().authenticate(LOGIN, LOGIN)
        self.user_opener = self.opener
        self.start_service()
        self.addCleanup(self.wait_for_callers)
        wake_websockets(self)
        self.assertEqual(self.make_jsonrpc_request("/cti/login"), {"queued": True})
        self.wait_for_event(self.partner_id, "READY")

    # -- helpers -----------------------------------------------------------------------

    def authenticate(self, user, password, browser=None):
        if browser and user == LOGIN:
            browser.set_cookie("session_id", self.user_session.sid, "/", HOST)
            self.session, self.opener = self.user_session, self.user_opener
            return self.session
        return super().authenticate(user, password, browser=browser)

    def ring(self):
        """SIPp calls the user's extension; called when the tour asks for it."""
        call = self.sipp.uac(self.lab_pbx, "1001", caller=self.caller, cancel_after_s=6)
        self.calls.append(call)

    def wait_for_callers(self):
        for call in self.calls:
            call.wait()

    def set_screen_pop(self, mode):
        with self.registry.cursor() as cr:
            self.env(cr=cr)["res.users"].browse(self.user_id).cti_screen_pop = mode

    def start_screen_pop_tour(self, tour, caller):
        self.caller = caller
        with patch("odoo.tests.common.ChromeBrowser", ScreenPopBrowser):
            self.start_tour("/odoo", tour, login=LOGIN, timeout=120)
        self.assertEqual(len(self.calls), 1, "the tour asked for exactly one call")

    # -- tests -------------------------------------------------------------------------

    def test_known_caller_opens_the_partner_form(self):
        self.start_screen_pop_tour("cti_screen_pop_open_partner", "+4930123456")

    def test_only_one_of_two_tabs_pops(self):
        self.second_tab = True
        self.start_screen_pop_tour("cti_screen_pop_two_tabs", "+4930123456")
        self.assertEqual(
            sorted(name for forms in self.forms_by_tab for name in forms),
            ["Erika Mustermann"],
            f"forms open per tab: {self.forms_by_tab}",
        )
        self.assertEqual(self.other_tab_errors, [])

    def test_unknown_caller_offers_to_create_the_contact(self):
        self.start_screen_pop_tour("cti_screen_pop_create_contact", "+4940555777")

    def test_shared_number_lets_the_user_choose(self):
        self.start_screen_pop_tour("cti_screen_pop_chooser", "+49897654321")

    def test_notify_preference_shows_a_notification_only(self):
        self.set_screen_pop("notify")
        self.start_screen_pop_tour("cti_screen_pop_notify", "+4930123456")


@tagged("post_install", "-at_install")
class TestScreenPopPreference(HttpCase):
    def test_users_set_their_own_preference_and_their_browser_gets_it(self):
        alice = new_test_user(self.env, "cti_pref_alice", groups=CTI_USER_GROUPS)
        bob = new_test_user(self.env, "cti_pref_bob", groups=CTI_USER_GROUPS)
        self.assertEqual(alice.cti_screen_pop, "open")
        alice.with_user(alice).write({"cti_screen_pop": "notify"})
        self.assertEqual(
            alice.with_user(alice).read(["cti_screen_pop"])[0]["cti_screen_pop"], "notify"
        )
        with self.assertRaises(AccessError):
            bob.with_user(alice).write({"cti_screen_pop": "off"})
        self.authenticate(alice.login, alice.login)
        info = self.make_jsonrpc_request("/web/session/get_session_info")
        self.assertEqual(info["cti_screen_pop"], "notify")
