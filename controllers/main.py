"""JSON routes of the CTI: validate, enqueue for the service, return at once.

Outcomes arrive later as ``cti_connector/event`` bus notifications; a route answers with
an ERROR payload only for what it can tell straight away (no account, bad number...).
"""

from odoo import _, http
from odoo.http import request

from ..cti_engine.phone import InvalidDestination, format_for_people, normalize_destination
from ..models.cti_number import record_country
from ..service.commands import CALL_ID, ORIGIN_MODELS

MAX_FORMAT_NUMBERS = 100


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
        if not self._allowed(account, "command"):
            return _error(_("Too many requests in a short time: wait a few seconds."))
        command = request.env["cti.command"]._cti_enqueue(account, name, payload)
        return {"queued": True, "commandId": command.id}

    def _allowed(self, account, kind):
        return request.env["cti.rate.limit"].sudo()._cti_take(account, kind)

    def _session(self, wanted):
        account = self._account()
        if not account:
            return _error(_("You have no CTI account: ask your administrator for one."))
        if account.session_wanted != wanted and not self._allowed(account, "session"):
            return _error(_("Too many logins and logouts in a short time: wait a minute."))
        account._cti_request_session(wanted)
        return {"queued": True}

    def _destination(self, account, destination, record=None):
        """``destination`` in E.164, or an extension; a national number is read with the
        country of ``record`` (the one it was clicked on), else with the PBX's."""
        country = (record_country(record) if record else None) or account._cti_country()
        return normalize_destination(destination, country.code or "")

    def _origin_record(self, origin):
        """The record a number was clicked on, if the user may read it; else None."""
        model = origin.get("model") if isinstance(origin, dict) else None
        if not isinstance(model, str) or model not in request.env:
            return None
        try:
            record = request.env[model].browse(int(origin.get("id"))).exists()
        except (TypeError, ValueError):
            return None
        return record._filtered_access("read") or None

    @http.route("/cti/login", type="json", auth="user")
    def login(self):
        return self._session(True)

    @http.route("/cti/logout", type="json", auth="user")
    def logout(self):
        return self._session(False)

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
            record = self._origin_record(origin)
            number = self._destination(account, destination, record) if account else None
        except InvalidDestination as exc:
            return _error(request.env["cti.notice"]._cti_message(**exc.notice.as_dict()))
        if account and account.session_wanted and not self._allowed(account, "call"):
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
    def transfer(self, callId=None, destination=None, askFirst=False):  # noqa: N803
        """Transfer now, or with ``askFirst`` call the target on a second line first (then
        ``/cti/complete`` or ``/cti/terminate`` that line)."""
        account = self._account()
        try:
            number = self._destination(account, destination) if account else None
        except InvalidDestination as exc:
            return _error(request.env["cti.notice"]._cti_message(**exc.notice.as_dict()))
        return self._call_command("transfer", callId, destination=number, askFirst=askFirst is True)

    @http.route("/cti/complete", type="json", auth="user")
    def complete(self, callId=None):  # noqa: N803
        return self._call_command("complete", callId)

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
