import json
import threading
from datetime import timedelta
from unittest.mock import patch

from odoo.addons.bus.models.bus import dispatch
from odoo.tests import TransactionCase, new_test_user
from odoo.tests.common import ChromeBrowser

from ..cti_engine.events import FINAL_EVENTS

CTI_USER_GROUPS = "base.group_user,cti_connector.group_cti_user"
CTI_MANAGER_GROUPS = "base.group_user,cti_connector.group_cti_manager"


def create_cti_users(env):
    """Two CTI users, a CTI manager, an internal user without CTI and a portal user.

    :return: dict of ``res.users`` records by role
    """
    return {
        "alice": new_test_user(env, "cti_test_alice", groups=CTI_USER_GROUPS),
        "bob": new_test_user(env, "cti_test_bob", groups=CTI_USER_GROUPS),
        "manager": new_test_user(env, "cti_test_manager", groups=CTI_MANAGER_GROUPS),
        "plain": new_test_user(env, "cti_test_plain", groups="base.group_user"),
        "portal": new_test_user(env, "cti_test_portal", groups="base.group_portal"),
    }


def create_cti_accounts(env, pbx, users):
    """An account with a known SIP password for alice and for bob.

    :return: ``(alice_account, bob_account)``
    """
    Account = env["cti.account"]
    return (
        Account.create(
            {
                "user_id": users["alice"].id,
                "pbx_id": pbx.id,
                "username": "2001",
                "password": "alice-sip-secret",
            }
        ),
        Account.create(
            {
                "user_id": users["bob"].id,
                "pbx_id": pbx.id,
                "username": "2002",
                "password": "bob-sip-secret",
            }
        ),
    )


class CtiCommon(TransactionCase):
    """A PBX, the users of :func:`create_cti_users` as attributes, their accounts and one
    call each for alice and bob."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pbx = cls.env["cti.pbx"].create(
            {"name": "Test PBX", "ws_url": "wss://pbx.example.com:8089/ws", "domain": "example.com"}
        )
        users = create_cti_users(cls.env)
        cls.alice = users["alice"]
        cls.bob = users["bob"]
        cls.manager = users["manager"]
        cls.plain = users["plain"]
        cls.portal = users["portal"]
        cls.account_alice, cls.account_bob = create_cti_accounts(cls.env, cls.pbx, users)
        cls.call_alice = cls.create_call(cls.alice, "call-alice")
        cls.call_bob = cls.create_call(cls.bob, "call-bob")

    @classmethod
    def create_call(cls, user, sip_call_id, **values):
        return cls.env["cti.call"].create(
            {
                "direction": "outbound",
                "status": "answered",
                "source": "2001",
                "destination": "+4930123456",
                "user_id": user.id,
                "sip_call_id": sip_call_id,
                **values,
            }
        )


def log_call(env, user, call, names, start, talk_seconds=0):
    """Record a whole call of ``user`` as the service's log lane does: the events ``names``
    of the call object ``call`` in order, each two seconds after the one before it, except
    the final HANGUP or CANCEL, which comes ``talk_seconds`` after it.

    :return: the ``cti.call`` record
    """
    when = start
    for name in names:
        when += timedelta(seconds=talk_seconds if name in FINAL_EVENTS else 2)
        record = env["cti.call"]._cti_record_event(
            user, {"name": name, "call": {**call, "status": name}}, when=when
        )
    return record


def web_login(case, user):
    """Log ``user`` (password: their login) in as a person does in the browser, through
    ``/web/session/authenticate`` (an interactive login), in the session of the HttpCase
    ``case``.

    :return: the session info Odoo answers with
    """
    case.authenticate(None, None)
    credentials = {"db": case.env.cr.dbname, "login": user.login, "password": user.login}
    response = case.url_open(
        "/web/session/authenticate",
        data=json.dumps({"params": credentials}),
        headers={"Content-Type": "application/json"},
    )
    return response.json()["result"]


def wake_websockets(case):
    """Wake the browsers' websockets as PostgreSQL's NOTIFY would after a commit, until
    ``case`` ends: test cursors never commit, so the bus's own wake-up (a post-commit hook)
    never runs."""
    stop = threading.Event()

    def wake():
        while not stop.wait(0.2):
            for websockets in list(dispatch._channels_to_ws.values()):
                for websocket in list(websockets):
                    websocket.trigger_notification_dispatching()

    thread = threading.Thread(target=wake, name="cti-test-bus-wake", daemon=True)
    thread.start()
    case.addCleanup(thread.join)
    case.addCleanup(stop.set)


TOUR_SIGNAL_PREFIX = "cti_tour:"
"""What a tour step logs to ask its test to act (``static/tests/tours/utils/steps.js``)."""


def listen_to_tour_signals(case):
    """Until ``case`` ends, hand each ``cti_tour:<action>`` line a tour logs in the browser's
    console to ``case.on_tour_signal(browser, action)``. It runs in the browser's message
    thread: anything slow belongs in a thread of its own."""
    handle_console = ChromeBrowser._handle_console

    def handle_tour_console(browser, type, args=None, stackTrace=None, **kw):  # noqa: A002
        text = str((args or [{}])[0].get("value", ""))
        if type == "log" and text.startswith(TOUR_SIGNAL_PREFIX):
            case.on_tour_signal(browser, text[len(TOUR_SIGNAL_PREFIX) :])
        return handle_console(browser, type, args, stackTrace, **kw)

    case.startPatcher(patch.object(ChromeBrowser, "_handle_console", handle_tour_console))
