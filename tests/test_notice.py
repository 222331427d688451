"""The engine's notice codes worded for the user: every code has its sentence, the pushed
events carry it as the reference's ``message``, in the user's language."""

from unittest.mock import patch

from odoo import api
from odoo.tests import tagged

from ..cti_engine import notices
from ..cti_engine.events import LOGGED_OUT, OWN_PHONE_CAUSES, PBX_CONNECTION_LOST, activity
from ..models.cti_notice import ACTION_TEXT, CAUSE_TEXT, NOTICE_TEXT, REASON_TEXT, SETTING_TEXT
from ..service.push_memory import PushMemory
from .common import CtiCommon

PARAMS = {
    "user": "1001",
    "status": "420 Bad Extension",
    "other_status": "200 OK without a dialog",
    "setting": "domain",
    "reason": "connection refused",
    "url": "wss://pbx.example.com/ws",
    "address": "127.0.0.1:5038",
    "action": "hold",
    "call": "c-1",
    "destination": "1002",
    "cause": "busy",
    "number": "abc",
}
CODES = [
    value
    for name, value in vars(notices).items()
    if name.isupper() and isinstance(value, str) and not name.startswith("REASON_")
]


@tagged("post_install", "-at_install")
class TestNotice(CtiCommon):
    def message(self, code, **params):
        return self.env["cti.notice"]._cti_message(code, params)

    def test_every_code_has_its_sentence(self):
        self.assertGreater(len(CODES), 40)
        with self.assertNoLogs("odoo.addons.cti_connector.models.cti_notice", "WARNING"):
            for code in CODES:
                text = self.message(code, **PARAMS)
                self.assertTrue(text.endswith((".", ")")) or ":" in text, code)
                self.assertNotIn("%(", text, code)
                self.assertNotIn(code, text)

    def test_every_term_of_the_engine_has_its_words(self):
        self.assertEqual(set(NOTICE_TEXT), set(CODES))
        self.assertEqual(set(ACTION_TEXT), set(notices.ACTIONS))
        self.assertEqual(set(SETTING_TEXT), set(notices.SETTINGS))
        self.assertLessEqual({*OWN_PHONE_CAUSES, PBX_CONNECTION_LOST, LOGGED_OUT}, set(CAUSE_TEXT))
        self.assertEqual(set(REASON_TEXT), set(notices.REASONS))

    def test_why_a_connection_ended_is_worded_with_the_systems_own_words(self):
        url = "wss://pbx.example.com/ws"
        for reason in notices.REASONS:
            why = notices.connection_reason(reason, ConnectionRefusedError(111, "refused"))
            text = self.message(notices.PBX_UNREACHABLE, url=url, **why)
            self.assertNotIn(f"({reason}", text)  # worded, not shown as its code
            self.assertNotIn("%(", text)
        unverified = notices.connection_reason(
            notices.REASON_TLS_UNVERIFIED, "unable to get local issuer certificate"
        )
        self.assertEqual(
            self.message(notices.PBX_UNREACHABLE, url=url, **unverified),
            "Cannot reach the PBX at wss://pbx.example.com/ws (its TLS certificate could not be "
            "verified: unable to get local issuer certificate; if the PBX uses a private CA, "
            "set its CA bundle); retrying.",
        )
        refused = notices.connection_reason(
            notices.REASON_CANNOT_CONNECT, ConnectionRefusedError(111, "Connection refused")
        )
        self.assertIn(
            "at 127.0.0.1:5038 (cannot connect: [Errno 111] Connection refused); retrying.",
            self.message(notices.MANAGER_DOWN, address="127.0.0.1:5038", **refused),
        )
        # a reason that is no code (the PBX's own message) is shown as it came
        self.assertIn(
            "(Authentication failed)",
            self.message(
                notices.MANAGER_REFUSED, address="a:1", user="cti", reason="Authentication failed"
            ),
        )

    def test_a_translation_that_does_not_fit_falls_back_to_english(self):
        why = notices.connection_reason(notices.REASON_CANNOT_CONNECT, "Connection refused")

        def misfit(env, source, *args, **kwargs):
            return "%(nope)d"  # no such parameter, and not a number

        with (
            patch.object(api.Environment, "_", misfit),
            self.assertLogs("odoo.addons.cti_connector.models.cti_notice", "WARNING") as logs,
        ):
            text = self.message(notices.CONNECTION_LOST, **why)
        self.assertEqual(
            text,
            "Lost the connection to the PBX (cannot connect: Connection refused); reconnecting.",
        )
        self.assertEqual(len(logs.output), 2)  # the reason's wording and the sentence's

    def test_the_words_an_admin_needs_are_there(self):
        hint = self.message(notices.NO_CALL_STATE, user="1001")
        self.assertIn("exten => 1001,hint,PJSIP/1001", hint)
        self.assertIn("allow_subscribe=yes", self.message(notices.WATCHING_FORBIDDEN, user="1001"))
        refused = self.message(notices.CREDENTIALS_REFUSED, user="1001", status=401)
        self.assertIn("1001", refused)
        self.assertIn("password", refused)
        self.assertEqual(
            self.message(notices.NOT_AVAILABLE, action="ask-first transfer"),
            "Ask-first transfer is not available for this call on this PBX and phone.",
        )
        self.assertEqual(
            self.message(notices.CANNOT_NOW, action="hold"), "The call cannot be put on hold now."
        )
        self.assertEqual(
            self.message(notices.TRANSFER_FAILED, destination="1002", cause="busy"),
            "Transfer to 1002 failed (Busy); the call goes on.",
        )
        self.assertEqual(
            self.message(notices.ACCOUNT_UNUSABLE, setting="domain"),
            "The CTI account cannot be used: the SIP domain is not valid.",
        )
        self.assertEqual(
            self.message(notices.PBX_ACTION_FAILED, action="transfer", reason="no answer"),
            "The PBX could not transfer the call (no answer).",
        )

    def test_a_bad_parameter_or_code_never_breaks_the_push(self):
        self.assertEqual(self.message("no_such_code"), "no_such_code")
        self.assertEqual(
            self.message(notices.ANSWERED_ALREADY, unexpected="x"),
            "This call was answered on your phone already.",
        )
        # a parameter missing: a question mark in its place, never an exception
        self.assertEqual(self.message(notices.LOGGED_IN), "Logged in as ?.")

    def test_pushed_events_carry_the_sentence_in_the_users_language(self):
        alice = self.alice
        self.env["res.lang"]._activate_lang("fr_FR")
        alice.lang = "fr_FR"
        payload = activity("ERROR", notices.CREDENTIALS_REFUSED, user="2001", status=403)
        self.env["cti.push"]._cti_handle_events([(alice.id, payload, "failed")], PushMemory())
        expected = (
            self.env["cti.notice"]
            .with_context(lang="fr_FR")
            ._cti_message(notices.CREDENTIALS_REFUSED, {"user": "2001", "status": 403})
        )
        self.assertEqual(payload["message"], expected)
        self.assertEqual(payload["code"], "credentials_refused")
        self.assertEqual(alice.cti_account_id.session_message, expected)
