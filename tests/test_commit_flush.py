"""Writes made in a transaction of their own reach the database even when the garbage
collector runs just before that transaction commits.

Odoo flushes at commit only the environments its transaction still holds, and it holds them
weakly: an environment nobody names any more can be collected first, and the writes the ORM
had not yet sent go with it. Each test below collects garbage before every commit, so that
the loss, which is otherwise a matter of when the collector happens to run, always shows.
"""

import gc
import threading
from unittest.mock import patch

from odoo.sql_db import TestCursor
from odoo.tests import HttpCase, new_test_user, tagged

from ..service.config import ServiceConfig
from ..service.database import Database
from .common import CTI_USER_GROUPS, web_login

_commit = TestCursor.commit


def _collect_then_commit(cursor):
    gc.collect()
    return _commit(cursor)


@tagged("post_install", "-at_install")
class TestCommitFlush(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        pbx = cls.env["cti.pbx"].create(
            {"name": "PBX", "ws_url": "ws://127.0.0.1:9", "domain": "pbx.test"}
        )
        cls.alice = new_test_user(cls.env, "cti_flush_alice", groups=CTI_USER_GROUPS)
        cls.bob = new_test_user(cls.env, "cti_flush_bob", groups=CTI_USER_GROUPS)
        cls.accounts = cls.env["cti.account"].create(
            [
                {"user_id": user.id, "pbx_id": pbx.id, "username": username}
                for user, username in ((cls.alice, "3001"), (cls.bob, "3002"))
            ]
        )

    def setUp(self):
        super().setUp()
        self.startPatcher(patch.object(TestCursor, "commit", _collect_then_commit))
        self.database = Database(self.env.cr.dbname, ServiceConfig(), threading.Event())

    def session_messages(self):
        self.accounts.invalidate_recordset(["session_message"])
        return self.accounts.mapped("session_message")

    def test_web_login_starts_the_cti_session(self):
        alice = self.accounts[0]
        alice.write({"auto_login": True, "session_wanted": False})
        for attempt in range(3):
            alice.session_wanted = False
            self.assertEqual(web_login(self, self.alice)["uid"], self.alice.id)
            alice.invalidate_recordset(["session_wanted"])
            self.assertTrue(alice.session_wanted, f"web login {attempt + 1}")

    def test_service_transaction_keeps_its_writes(self):
        alice = self.accounts[0]

        def work(env):
            env["cti.account"].browse(alice.id).session_message = "written alone"

        self.database.in_transaction(work, "write a message")
        self.assertEqual(self.session_messages(), ["written alone", False])

    def test_service_batch_keeps_its_writes(self):
        def together(env, ids):
            for account in env["cti.account"].browse(ids):
                account.session_message = f"written together {account.username}"

        self.database.all_or_each(self.accounts.ids, together, None, "write messages")
        self.assertEqual(
            self.session_messages(), ["written together 3001", "written together 3002"]
        )
