"""Each CTI user's line as their colleagues see it: free, ringing, on a call, on hold.

The service host derives it from the events it already pushes to the user
(``cti.push._cti_derive`` calls :meth:`CtiLineState._cti_track` in the same
transaction) and pushes every change once per company, on the bus channel
``(res.company, "cti_line")`` that ``ir.websocket`` gives the CTI users of that company.
"""

from odoo import api, fields, models

from ..cti_engine import events

LINE_STATES = [
    ("offline", "Offline"),
    ("free", "Free"),
    ("ringing", "Ringing"),
    ("on_call", "On a Call"),
    ("on_hold", "On Hold"),
]
LINE_CHANNEL = "cti_line"

LINE_NOTIFICATION = "cti_connector/line"
FINAL_EVENTS = tuple(event.value for event in events.FINAL_EVENTS)
RINGING_EVENTS = tuple(event.value for event in events.RINGING_EVENTS)
# Agent states in which the user has no line to watch.
OFFLINE_AGENT_STATES = ("logged_out", "failed")
# What colleagues see of a call: the reference's call object and the partner's id, whose
# name each browser reads with its own user's rights; never the partner's or lead's name
# as the call's owner found it.
SHARED_CALL_KEYS = (*events.REFERENCE_CALL_KEYS, "partnerId", "transferredTo")


def line_state(calls):
    """The state of a line from its calls in progress (``{call id: {"status"}}``): a call
    being talked on wins over one on hold, which wins over one ringing."""
    statuses = {call["status"] for call in calls.values()}
    if "CONNECTED" in statuses:
        return "on_call"
    if "ON_HOLD" in statuses:
        return "on_hold"
    if statuses & set(RINGING_EVENTS):
        return "ringing"
    return "free"


def shared_call(call):
    """The call as the owner's colleagues may see it (see SHARED_CALL_KEYS)."""
    shared = {key: call[key] for key in SHARED_CALL_KEYS if key in call}
    partner_name = call.get("partnerName")
    for key in ("sourceName", "destinationName"):
        # filled from the partner by the push lane: the owner's reading, not the PBX's
        if partner_name and shared.get(key) == partner_name:
            shared[key] = ""
    return shared


class CtiLineState(models.Model):
    """One row per CTI user whose line is shared: written by the service host only."""

    _name = "cti.line.state"
    _description = "CTI Line State"
    _rec_name = "user_id"
    _order = "user_id"

    user_id = fields.Many2one(
        "res.users", string="User", required=True, ondelete="cascade", index=True, readonly=True
    )
    company_id = fields.Many2one("res.company", string="Company", readonly=True, index=True)
    state = fields.Selection(LINE_STATES, required=True, default="offline", readonly=True)
    since = fields.Datetime(readonly=True, help="When the line took its current state.")
    calls = fields.Json(
        readonly=True, help="The calls in progress: {call id: {status, partnerId}}, in order."
    )
    last_event = fields.Json(
        readonly=True, help="The last call event while a call is in progress, as shared."
    )
    version = fields.Integer(
        readonly=True,
        help="Counts the line's changes: a browser keeps the newest of what the bus and "
        "/cti/team told it, whichever reached it first.",
    )

    _sql_constraints = [
        ("user_uniq", "unique(user_id)", "A user has one line state."),
    ]

    def _cti_payload(self):
        """What the bus and ``/cti/team`` say of this line."""
        self.ensure_one()
        calls = self.calls or {}
        last = list(calls.values())[-1] if calls else {}
        return {
            "userId": self.user_id.id,
            "state": self.state,
            "since": fields.Datetime.to_string(self.since) if self.since else False,
            "partnerId": last.get("partnerId") or False,
            "event": self.last_event or False,
            "version": self.version,
        }

    @api.model
    def _cti_track(self, events, account_of):
        """Update the lines of the users of ``events`` and write one notification per
        change to their company's channel.

        :param events: ``[(user id, payload, agent state)]`` as the push lane writes them,
            call payloads already completed with who the call is with
        :param dict account_of: ``{user id: cti.account}`` of those users
        :return: the bus channels written to
        """
        by_user = {}
        for user_id, payload, agent_state in events:
            account = account_of.get(user_id)
            if account and account.pbx_id.share_line_states:
                by_user.setdefault(user_id, []).append((payload, agent_state))
        if not by_user:
            return []
        lines = self.sudo().search([("user_id", "in", list(by_user))])
        line_of = {line.user_id.id: line for line in lines}
        now = fields.Datetime.now()
        notifications = []
        for user_id, items in by_user.items():
            account = account_of[user_id]
            company = account.company_id or account.user_id.company_id
            line = line_of.get(user_id) or self.sudo().create(
                {"user_id": user_id, "company_id": company.id, "since": now}
            )
            values = {
                "state": line.state,
                "since": line.since,
                "calls": dict(line.calls or {}),
                "last_event": line.last_event,
                "version": line.version,
                "company_id": company.id,
            }
            changes = []
            for payload, agent_state in items:
                event = self._cti_apply(values, payload, agent_state, now)
                if event is not None:
                    changes.append(event)
            if not changes:
                continue
            line.write(values)
            base = {"userId": user_id, "extension": account.username}
            for state, since, partner_id, event, version in changes:
                notifications.append(
                    (
                        (company, LINE_CHANNEL),
                        {
                            **base,
                            "state": state,
                            "since": fields.Datetime.to_string(since),
                            "partnerId": partner_id,
                            "event": event,
                            "version": version,
                        },
                    )
                )
        if not notifications:
            return []
        return self.env["cti.push"]._cti_write_notifications(notifications, LINE_NOTIFICATION)

    @staticmethod
    def _cti_apply(values, payload, agent_state, now):
        """Apply one event to a line's ``values``.

        :return: ``(state, since, partner id, shared event or False, version)`` to push,
            or None when the event says nothing about the line
        """
        calls = values["calls"]
        event = False
        if "call" in payload:
            call = payload["call"]
            name = payload["name"]
            event = {"name": name, "call": shared_call(call)}
            calls.pop(call.get("id"), None)
            if name not in FINAL_EVENTS:
                partner_id = call.get("partnerId") or False
                calls[call.get("id")] = {"status": name, "partnerId": partner_id}
            values["last_event"] = event if calls else False
        elif agent_state in OFFLINE_AGENT_STATES:
            if values["state"] == "offline":
                return None
            calls.clear()
            values["last_event"] = False
        elif agent_state != "ready" or values["state"] != "offline":
            return None
        state = "offline" if agent_state in OFFLINE_AGENT_STATES else line_state(calls)
        if state != values["state"]:
            values["state"] = state
            values["since"] = now
        partner_id = list(calls.values())[-1]["partnerId"] if calls else False
        values["version"] += 1
        return state, values["since"], partner_id, event, values["version"]

    @api.model
    def _cti_team(self, viewer):
        """The lines ``viewer`` may watch: the CTI users of their companies whose PBX shares
        them, but themselves; who a call is with only when ``viewer`` may read that partner.

        :return: list of dicts (``userId``, ``name``, ``extension``, ``domain`` and
            ``pbxId`` (of the PBX), ``state``, ``since``,
            ``partnerId``, ``partnerName``, ``event``), by name
        """
        accounts = (
            self.env["cti.account"]
            .sudo()
            .search(
                [
                    ("user_id", "!=", viewer.id),
                    ("user_id.active", "=", True),
                    ("pbx_id.share_line_states", "=", True),
                    "|",
                    ("company_id", "=", False),
                    ("company_id", "in", viewer.company_ids.ids),
                ]
            )
        )
        line_of = {
            line.user_id.id: line
            for line in self.sudo().search([("user_id", "in", accounts.user_id.ids)])
        }
        members = []
        for account in accounts:
            line = line_of.get(account.user_id.id)
            member = {
                "userId": account.user_id.id,
                "name": account.user_id.name,
                "extension": account.username,
                "domain": account.pbx_id.domain,
                "pbxId": account.pbx_id.id,
                "state": "offline",
                "since": False,
                "partnerId": False,
                "event": False,
                "version": 0,
            }
            if line:
                member.update(line._cti_payload())
            members.append(member)
        partner_ids = {member["partnerId"] for member in members if member["partnerId"]}
        Partner = self.env["res.partner"].with_user(viewer)
        readable = Partner.search([("id", "in", list(partner_ids))])
        names = {partner.id: partner.display_name for partner in readable}
        for member in members:
            member["partnerName"] = names.get(member["partnerId"], False)
        return sorted(members, key=lambda member: member["name"] or "")
