"""JSON routes of the CTI: validate, enqueue for the service, return at once.

Outcomes arrive later as ``cti_connector/event`` bus notifications; a route answers with
an ERROR payload only for what it can tell straight away (no account, bad number...).
"""

import re
from datetime import timedelta

import phonenumbers
from odoo import _, fields, http
from odoo.http import request

from ..cti_engine.phone import InvalidDestination, normalize_destination

CALL_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
ORIGIN_MODELS = ("res.partner", "crm.lead")
# Click-to-call rate limit per user: a stuck key or a script must not start a dialling storm.
CALL_RATE_LIMIT = 5
CALL_RATE_WINDOW = timedelta(seconds=30)
MAX_FORMAT_NUMBERS = 100


def format_for_people(number):
    if not number.startswith("+") or len(number) > 16:
        return number
    try:
        parsed = phonenumbers.parse(number)
    except phonenumbers.NumberParseException:
        return number
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def _error(message):
    return {"name": "ERROR", "message": message}


class CtiController(http.Controller):
    def _account(self):
        Account = request.env["cti.account"]
        if not Account.has_access("read"):
            # users outside the CTI groups simply have no account (and keep their tel: links)
            return Account
        return Account.search([("user_id", "=", request.env.uid)], limit=1)

    def _enqueue(self, account, name, payload):
        if not account:
            return _error(_("You have no CTI account: ask your administrator for one."))
        if not account.session_wanted:
            return _error(_("You are not logged in to the CTI."))
        command = request.env["cti.command"].create(
            {"account_id": account.id, "name": name, "payload": payload}
        )
        request.env.cr.execute("SELECT pg_notify('cti_command', %s)", (str(command.id),))
        return {"queued": True, "commandId": command.id}

    def _calls_recently(self, account):
        since = fields.Datetime.now() - CALL_RATE_WINDOW
        return (
            request.env["cti.command"]
            .sudo()
            .search_count(
                [
                    ("account_id", "=", account.id),
                    ("name", "=", "call"),
                    ("create_date", ">=", since),
                ]
            )
        )

    def _destination(self, account, destination):
        country = account.pbx_id.country_id or account.company_id.country_id
        return normalize_destination(destination, country.code or "")

    @http.route("/cti/login", type="json", auth="user")
    def login(self):
        account = self._account()
        if not account:
            return _error(_("You have no CTI account: ask your administrator for one."))
        account._cti_request_session(True)
        return {"queued": True}

    @http.route("/cti/logout", type="json", auth="user")
    def logout(self):
        account = self._account()
        if not account:
            return _error(_("You have no CTI account: ask your administrator for one."))
        account._cti_request_session(False)
        return {"queued": True}

    @http.route("/cti/status", type="json", auth="user")
    def status(self):
        account = self._account()
        if not account:
            return {"hasAccount": False, "loggedIn": False, "state": "logged_out"}
        return {
            "hasAccount": True,
            "loggedIn": account.session_wanted,
            "state": account.session_state,
            "message": account.session_message or "",
            "extension": account.username,
        }

    @http.route("/cti/call", type="json", auth="user")
    def call(self, destination=None, origin=None):
        account = self._account()
        try:
            number = self._destination(account, destination) if account else None
        except InvalidDestination as exc:
            return _error(str(exc))
        if account and self._calls_recently(account) >= CALL_RATE_LIMIT:
            return _error(
                _("Too many calls in a short time: wait a few seconds before calling again.")
            )
        payload = {"destination": number}
        if isinstance(origin, dict) and origin.get("model") in ORIGIN_MODELS:
            try:
                payload["origin"] = {"model": origin["model"], "id": int(origin.get("id"))}
            except (TypeError, ValueError):
                return _error(_("The record the call comes from is not valid."))
        return self._enqueue(account, "call", payload)

    @http.route("/cti/answer", type="json", auth="user")
    def answer(self, callId=None):  # noqa: N803 - reference parameter name
        return self._call_command("answer", callId)

    @http.route("/cti/terminate", type="json", auth="user")
    def terminate(self, callId=None):  # noqa: N803
        return self._call_command("terminate", callId)

    @http.route("/cti/hold", type="json", auth="user")
    def hold(self, callId=None):  # noqa: N803
        return self._call_command("hold", callId)

    @http.route("/cti/resume", type="json", auth="user")
    def resume(self, callId=None):  # noqa: N803
        return self._call_command("resume", callId)

    @http.route("/cti/transfer", type="json", auth="user")
    def transfer(self, callId=None, destination=None):  # noqa: N803
        account = self._account()
        try:
            number = self._destination(account, destination) if account else None
        except InvalidDestination as exc:
            return _error(str(exc))
        return self._call_command("transfer", callId, destination=number)

    @http.route("/cti/format", type="json", auth="user")
    def format_numbers(self, numbers=None):
        """The numbers of calls written for people (``+49 89 555000``); extensions and
        anything unreadable unchanged. The browser has no phone number metadata.

        :param list numbers: E.164 numbers or extensions, as call events carry them
        :return: dict number -> text to show
        """
        if not isinstance(numbers, list):
            return {}
        return {
            number: format_for_people(number)
            for number in numbers[:MAX_FORMAT_NUMBERS]
            if isinstance(number, str)
        }

    def _call_command(self, name, call_id, **extra):
        if not isinstance(call_id, str) or not CALL_ID.match(call_id):
            return _error(_("That is not a call id."))
        return self._enqueue(self._account(), name, {"callId": call_id, **extra})
