"""The reference API in headless Chromium against the real service host, Kamailio, baresip
and SIPp: a client written for VoIPstudio's CTI Connector, loaded into a backend page,
drives a login (both forms), a subscription, a click-to-call and an inbound call; and the
softphone's Team tab shows a colleague turning busy and free within a second.

See tests/test_softphone_tour.py for how the tours and the Python side talk.
"""

import json
import queue
import threading
import time

from odoo.tests import tagged

from .. import lab
from ..cti_engine import Reactor
from ..service.config import ServiceConfig
from ..service.host import ServiceHost
from .test_softphone_tour import SoftphoneTourCase

CALLER = "+4930123456"
# From the colleague's call event leaving the engine to their row changing in another
# user's softphone, at most (seconds).
TEAM_LATENCY = 1.0


class TimedQueue(queue.SimpleQueue):
    """The service host's push queue, noting when each event of a user left the engine."""

    def __init__(self):
        super().__init__()
        self.emitted = []  # (wall clock, user id, event name)

    def put(self, item, block=True, timeout=None):
        if item is not None:
            self.emitted.append((time.time(), item[0], item[1].get("name")))
        super().put(item, block, timeout)


class ReferenceTourCase(SoftphoneTourCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.bob = cls.create_cti_user("cti_tour_bob", "1002")
        cls.env["res.partner"].create(
            {"name": "Erika Mustermann", "phone": CALLER, "country_id": cls.germany.id}
        )

    def setUp(self):
        super().setUp()
        self.incoming_since = 0
        self.callers = []
        self.seen = None
        self.addCleanup(self.wait_for_callers)

    def wait_for_callers(self):
        for caller in self.callers:
            caller.wait()

    def start_service(self):
        """The service host, its push queue timed."""
        reactor = Reactor().start()
        self.addCleanup(reactor.stop)
        host = ServiceHost(self.env.cr.dbname, ServiceConfig(reconcile_interval=0.3), reactor)
        host.push_lane.events = TimedQueue()
        host.start()
        self.addCleanup(host.stop)
        return host

    def on_tour_signal(self, browser, action):
        if action == "ring":
            self.incoming_since = len(self.desk_phone.events)
            self.callers.append(self.sipp.uac(self.lab_pbx, "1001", caller=CALLER, talk_s=3))
        elif action == "colleague_call":
            self.callers.append(self.sipp.uac(self.lab_pbx, "1002", caller=CALLER, talk_s=2))
        elif action.startswith("seen:"):
            self.seen = json.loads(action[len("seen:") :])
        else:
            super().on_tour_signal(browser, action)

    def answer_desk_phone(self):
        try:
            self.desk_phone.wait_event("CALL_INCOMING", since=self.incoming_since)
            self.incoming_since = len(self.desk_phone.events)
            self.desk_phone.answer()
        except (TimeoutError, lab.LabError) as exc:
            self.signal_errors.append(f"answer: {exc}")


@tagged("post_install", "-at_install")
class TestReferenceClient(ReferenceTourCase):
    def test_reference_client_runs_unchanged(self):
        self.desk_phone = self.start_phone("1001")
        far = self.far_end("reinvite", ring_s=0.5)
        self.run_tour("cti_connector_reference_client", "/odoo")
        self.assertEqual(far.wait(), 0)
        names = [name for name, _call in self.call_events(self.alice)]
        self.assertEqual(
            names,
            ["INITIAL", "ACCEPTED", "RINGING", "CONNECTED", "HANGUP"]
            + ["RINGING", "CONNECTED", "HANGUP"],
        )
        self.assertTrue(self.screenshot.result(timeout=10)["data"])
        # login(user, password) and login(apiKey) sent nothing of what was typed
        with self.registry.cursor() as cr:
            cr.execute("SELECT count(*) FROM cti_command WHERE payload::text ~ 'an-api-key|alice@'")
            self.assertEqual(cr.fetchone()[0], 0)


@tagged("post_install", "-at_install")
class TestTeamTab(ReferenceTourCase):
    def on_tour_signal(self, browser, action):
        super().on_tour_signal(browser, action)
        if action == "start":
            threading.Thread(target=self.log_bob_in, daemon=True).start()
        elif action == "colleague_call":
            threading.Thread(target=self.bob_picks_up, daemon=True).start()

    def bob_picks_up(self):
        """Half a second into the ringing: a phone answering at once lets the lab Kamailio's
        UDP workers swap its 180 and 200, and the SIPp caller then aborts, never hanging up
        (a race of the lab PBX, as in tests_system)."""
        try:
            self.bob_phone.wait_event("CALL_INCOMING")
            time.sleep(0.5)
            self.bob_phone.answer()
        except (TimeoutError, lab.LabError) as exc:
            self.signal_errors.append(f"bob answers: {exc}")

    def log_bob_in(self):
        self.host.started.wait(30)
        with self.registry.cursor() as cr:
            cr.execute(
                "UPDATE cti_account SET session_wanted = true WHERE user_id = %s", (self.bob.id,)
            )
            cr.execute("SELECT pg_notify('cti_session', %s)", (str(self.bob.id),))

    def test_a_colleague_turns_busy_and_free(self):
        self.partner_ids[self.bob.id] = self.bob.partner_id.id
        self.bob_phone = self.start_phone("1002")
        self.run_tour("cti_connector_team_tab", "/odoo")
        self.assertTrue(self.screenshot.result(timeout=10)["data"])
        self.assertEqual(
            [name for name, _call in self.call_events(self.bob)], ["RINGING", "CONNECTED", "HANGUP"]
        )
        emitted = {
            name: at
            for at, user_id, name in self.host.push_lane.events.emitted
            if user_id == self.bob.id
        }
        self.assertIsNotNone(self.seen, "the tour did not report when the row changed")
        for state, event in (("on_call", "CONNECTED"), ("free", "HANGUP")):
            latency = self.seen[state] / 1000 - emitted[event]
            self.assertLess(latency, TEAM_LATENCY, f"{state} seen {latency:.3f} s after {event}")
