"""JSON routes of the CTI: validate, enqueue for the service, return at once.

Outcomes arrive later as ``cti_connector/event`` bus notifications; a route answers with
an ERROR payload only for what it can tell straight away (no account, bad number...).
"""

import re

from odoo import _, http
from odoo.http import request

from ..cti_engine.phone import InvalidDestination, normalize_destination

CALL_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
ORIGIN_MODELS = ("res.partner", "crm.lead")


def _error(message):
    return {"name": "ERROR", "message": message}


class CtiController(http.Controller):
    def _account(self):
        return request.env["cti.account"].search([("user_id", "=", request.env.uid)], limit=1)

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

    def _call_command(self, name, call_id, **extra):
        if not isinstance(call_id, str) or not CALL_ID.match(call_id):
            return _error(_("That is not a call id."))
        return self._enqueue(self._account(), name, {"callId": call_id, **extra})
