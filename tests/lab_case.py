"""What the Odoo tests that drive the real lab PBX share.

A class gets a lab PBX (Kamailio, or Asterisk for a class with ``LAB_PBX = "asterisk"``;
SIPp as trunk and far end) for all its tests and a PBX record pointing at it; a test starts
desk phones (baresip) and the service host as it needs them, and reads what the service sent
to a user's browsers from the bus table.

Concurrency in test mode: every cursor of the registry is the one test transaction, shared
under a lock by ``registry.cursor()``. The service host's threads use that lock; the test
thread must too while the host runs, so it reads through :meth:`cti_events` and plain ids
saved beforehand, never through ``self.env`` records.
"""

import json
import logging
import tempfile
import time
import unittest

from odoo.tests import HttpCase, new_test_user
from odoo.tools import SQL

from .. import lab
from ..cti_engine import Reactor
from ..service.config import ServiceConfig
from ..service.host import ServiceHost
from .common import CTI_USER_GROUPS


class CtiLabCase(HttpCase):
    #: SIP users of the lab PBX: extension -> password
    LAB_USERS = {"1001": "lab-secret-1001", "1002": "lab-secret-1002"}
    #: which lab PBX the class runs against: "kamailio" or "asterisk"
    LAB_PBX = "kamailio"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if cls.LAB_PBX == "asterisk" and not lab.find_asterisk():
            raise unittest.SkipTest(f"ASTERISK TESTS SKIPPED: {lab.ASTERISK_HINT}")
        cls.run_dir = tempfile.mkdtemp(prefix=f"cti-{cls.__name__}-")
        cls.sipp = lab.SippFactory(cls.run_dir)
        cls.addClassCleanup(cls.sipp.stop)
        pbx_class = lab.Asterisk if cls.LAB_PBX == "asterisk" else lab.Kamailio
        cls.lab_pbx = pbx_class(cls.run_dir, users=cls.LAB_USERS, gateway=cls.sipp.gateway).start()
        cls.addClassCleanup(cls.lab_pbx.stop)
        cls.germany = cls.env.ref("base.de")
        cls.pbx = cls.env["cti.pbx"].create(
            {
                "name": "Lab PBX",
                "ws_url": cls.lab_pbx.ws_url,
                "domain": cls.lab_pbx.domain,
                "country_id": cls.germany.id,
            }
        )

    @classmethod
    def use_manager_interface(cls):
        """The lab PBX record drives the lab Asterisk through its Manager Interface."""
        cls.pbx.write(
            {
                "driver": "asterisk",
                "ami_host": "127.0.0.1",
                "ami_port": cls.lab_pbx.ami_port,
                "ami_username": cls.lab_pbx.ami_user,
                "ami_secret": cls.lab_pbx.ami_secret,
                "ami_context": "internal",
            }
        )

    @classmethod
    def create_cti_user(cls, login, extension=None, groups=CTI_USER_GROUPS, **values):
        """A user (password = login), with a CTI account on the lab PBX for ``extension``."""
        user = new_test_user(cls.env, login, groups=groups, **values)
        if extension:
            cls.env["cti.account"].create(
                {
                    "user_id": user.id,
                    "pbx_id": cls.pbx.id,
                    "username": extension,
                    "password": cls.LAB_USERS.get(extension, "-"),
                }
            )
        return user

    def setUp(self):
        super().setUp()
        # A fresh PBX for each test, on the same ports: Kamailio keeps the dialogs of a call
        # an earlier test left half-closed (a phone stopped mid-call), and would report them
        # to this test's subscription as calls in progress.
        self.lab_pbx.restart()
        self.log_lines = []
        handler = logging.Handler(logging.DEBUG)
        handler.emit = lambda record: self.log_lines.append(handler.format(record))
        logging.getLogger().addHandler(handler)
        self.addCleanup(logging.getLogger().removeHandler, handler)
        self.env.cr.execute("SELECT COALESCE(MAX(id), 0) FROM bus_bus")
        self.first_bus_id = self.env.cr.fetchone()[0]

    def start_phone(self, extension, auto_answer=False):
        """A registered desk phone for ``extension``, stopped at the end of the test."""
        phone = lab.Baresip(
            self.run_dir,
            extension,
            self.LAB_USERS[extension],
            self.lab_pbx,
            auto_answer=auto_answer,
        ).start()
        self.addCleanup(phone.stop)
        phone.wait_registered()
        return phone

    def start_service(self):
        """The service host on this database, stopped at the end of the test."""
        reactor = Reactor().start()
        self.addCleanup(reactor.stop)
        host = ServiceHost(
            self.env.cr.dbname, ServiceConfig(reconcile_interval=0.3), reactor
        ).start()
        self.addCleanup(host.stop)
        return host

    def finished_calls(self, user, columns, timeout=10):
        """The user's call log, as dicts of ``columns``, once it has calls and every one of
        them is finished: the log lane records a call shortly after its final event reached
        the browser."""

        def read():
            with self.registry.cursor() as cr:
                cr.execute(
                    SQL(
                        "SELECT %s, end_date IS NOT NULL FROM cti_call WHERE user_id = %s",
                        SQL(", ").join(map(SQL.identifier, columns)),
                        user.id,
                    )
                )
                rows = cr.fetchall()
            return rows if rows and all(row[-1] for row in rows) else None

        rows = lab.wait_until(read, timeout, 0.1, "the calls logged")
        return [dict(zip(columns, row[:-1], strict=True)) for row in rows]

    def bus_messages(self, notification_type):
        """(channel, payload) of the bus notifications of ``notification_type`` written since
        the test began, in order."""
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT channel, message FROM bus_bus WHERE id > %s ORDER BY id",
                (self.first_bus_id,),
            )
            rows = cr.fetchall()
        messages = []
        for channel, message in rows:
            data = json.loads(message)
            if data.get("type") == notification_type:
                messages.append((json.loads(channel), data["payload"]))
        return messages

    def cti_events(self, partner_id):
        """The cti_connector/event payloads sent to a user (by their partner id) since the
        test began."""
        return [
            payload
            for channel, payload in self.bus_messages("cti_connector/event")
            if channel[1:] == ["res.partner", partner_id]
        ]

    def wait_for_event(self, partner_id, name, count=1, timeout=25):
        """The ``count``-th event ``name`` sent to a user, waiting for it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            events = [e for e in self.cti_events(partner_id) if e["name"] == name]
            if len(events) >= count:
                return events[count - 1]
            time.sleep(0.2)
        got = [e["name"] for e in self.cti_events(partner_id)]
        self.fail(f"no {name} for partner {partner_id}; got {got}")
