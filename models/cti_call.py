import logging

from odoo import _, api, fields, models
from odoo.tools import SQL
from odoo.tools.translate import LazyTranslate

from ..cti_engine.events import FINAL_EVENTS as ENGINE_FINAL_EVENTS
from ..cti_engine.events import OWN_PHONE_CAUSES
from ..cti_engine.phone import format_for_people

_logger = logging.getLogger(__name__)
_lt = LazyTranslate(__name__)

DIRECTIONS = [("inbound", "Inbound"), ("outbound", "Outbound")]
# ringing and connected are the states of a call in progress; the others are outcomes.
STATUSES = [
    ("ringing", "Ringing"),
    ("connected", "Connected"),
    ("answered", "Answered"),
    ("missed", "Missed"),
    ("cancelled", "Cancelled"),
    ("busy", "Busy"),
    ("failed", "Failed"),
    ("transferred", "Transferred"),
]
IN_PROGRESS_STATUSES = ("ringing", "connected")
# Somebody talked on these calls: they count as answered in the answer rate.
TALKED_STATUSES = ("connected", "answered", "transferred")

CALL_EVENTS = ("INITIAL", "ACCEPTED", "RINGING", "CONNECTED", "ON_HOLD", "HANGUP", "CANCEL")
FINAL_EVENTS = tuple(event.value for event in ENGINE_FINAL_EVENTS)
EVENT_DIRECTIONS = {"INBOUND": "inbound", "OUTBOUND": "outbound"}
ORIGIN_FIELDS = {"res.partner": "partner_id", "crm.lead": "lead_id"}

# Outcome of an outbound call that ended unconnected, by the engine's cause. The far end
# refusing the call reads as busy; the call given up while ringing, by the user or by the
# ring timeout, as cancelled; a call that could not be placed at all as failed.
OUTBOUND_CANCEL_STATUSES = {
    "busy": "busy",
    "rejected": "busy",
    "no answer": "cancelled",
    "cancelled": "cancelled",
    "terminated": "cancelled",
    "not found": "failed",
}


def cancel_status(direction, cause):
    """The outcome of a call that ended without being connected.

    :param direction: ``inbound`` or ``outbound``
    :param cause: the ``cause`` of the final event, as the engine words it
    :return: a status of :data:`STATUSES`
    """
    cause = (cause or "").strip().lower()
    if direction == "inbound":
        # Taken by a colleague of a ring group: nothing for this user to call back.
        return "cancelled" if cause == "answered elsewhere" else "missed"
    if cause in OWN_PHONE_CAUSES:
        # the number was never dialled: the user gave up rather than the call failing
        return "cancelled"
    return OUTBOUND_CANCEL_STATUSES.get(cause, "failed")


def format_seconds(seconds):
    minutes, seconds = divmod(int(seconds or 0), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


class CtiCall(models.Model):
    """One call of a user, as observed by the CTI service.

    The service records each call event with :meth:`_cti_record_event`: the first event
    creates the row, the last one finishes it and logs the call on the chatter of its
    partner or lead. ``(user_id, sip_call_id)`` identifies the row, so that the same event
    recorded twice (a replay, a second node) updates the row instead of logging the call
    again.
    """

    _name = "cti.call"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _description = "CTI Call"
    _order = "start_date desc, id desc"
    _check_company_auto = True
    # Users only read their calls; they may still discuss them and do their call-backs.
    _mail_post_access = "read"

    direction = fields.Selection(DIRECTIONS, required=True, index=True)
    status = fields.Selection(STATUSES, required=True, default="ringing", index=True)
    source = fields.Char(help="Number or extension of the calling party.")
    destination = fields.Char(help="Number or extension of the called party.")
    partner_id = fields.Many2one(
        "res.partner", string="Contact", index="btree_not_null", ondelete="set null"
    )
    lead_id = fields.Many2one(
        "crm.lead",
        string="Lead/Opportunity",
        index="btree_not_null",
        ondelete="set null",
        check_company=True,
    )
    user_id = fields.Many2one(
        "res.users",
        string="User",
        required=True,
        index=True,
        ondelete="cascade",
        default=lambda self: self.env.user,
    )
    company_id = fields.Many2one(
        "res.company",
        string="Company",
        required=True,
        index=True,
        default=lambda self: self.env.company,
    )
    start_date = fields.Datetime(
        string="Started", required=True, default=fields.Datetime.now, index=True
    )
    answer_date = fields.Datetime(string="Answered")
    end_date = fields.Datetime(string="Ended")
    duration = fields.Integer(
        string="Talk Time",
        compute="_compute_durations",
        store=True,
        aggregator="sum",
        help="Seconds from answer to hang-up; 0 for a call that was never answered.",
    )
    ring_duration = fields.Integer(
        string="Ring Time",
        compute="_compute_durations",
        store=True,
        aggregator="avg",
        help="Seconds from the start of the call until it was answered or given up.",
    )
    answer_rate = fields.Integer(
        string="Answer Rate (%)",
        compute="_compute_answer_rate",
        store=True,
        aggregator="avg",
        help="100 for a call somebody talked on, 0 otherwise: its average over a group of "
        "calls is their answer rate.",
    )
    hangup_cause = fields.Char(help="Why the call ended or failed, as reported by the PBX.")
    end_reason = fields.Char(
        string="Ended Because",
        compute="_compute_end_reason",
        help="Why the call ended or failed, in words.",
    )
    source_label = fields.Char(
        string="From",
        compute="_compute_party_labels",
        help="The calling party as people write it: a colleague's name for their extension.",
    )
    destination_label = fields.Char(
        string="To",
        compute="_compute_party_labels",
        help="The called party as people write it: a colleague's name for their extension.",
    )
    transferred_to = fields.Char(help="Number or extension the call was transferred to.")
    sip_call_id = fields.Char(
        string="Call ID",
        readonly=True,
        copy=False,
        help="Stable identifier of the call given by the CTI engine.",
    )

    _sql_constraints = [
        (
            "user_sip_call_id_uniq",
            "unique(user_id, sip_call_id)",
            "This call is already logged for this user.",
        ),
    ]

    @api.depends("start_date", "answer_date", "end_date")
    def _compute_durations(self):
        for call in self:
            rang_until = call.answer_date or call.end_date
            call.ring_duration = (
                max(int((rang_until - call.start_date).total_seconds()), 0)
                if rang_until and call.start_date
                else 0
            )
            call.duration = (
                max(int((call.end_date - call.answer_date).total_seconds()), 0)
                if call.answer_date and call.end_date
                else 0
            )

    @api.depends("hangup_cause")
    def _compute_end_reason(self):
        for call in self:
            call.end_reason = self.env["cti.notice"]._cti_cause((call.hangup_cause or "").strip())

    @api.depends("source", "destination")
    @api.depends_context("uid", "allowed_company_ids")
    def _compute_party_labels(self):
        # An extension is one of the PBX of the call's user.
        pbx_of = {user: user.sudo().cti_account_id.pbx_id for user in self.user_id}
        colleagues = {}
        for pbx in set(pbx_of.values()):
            calls = self.filtered(lambda call, pbx=pbx: pbx_of.get(call.user_id) == pbx)
            extensions = {
                number
                for number in calls.mapped("source") + calls.mapped("destination")
                if number and not number.startswith("+")
            }
            colleagues[pbx] = self.env["res.users"]._cti_colleagues_by_extension(pbx, extensions)
        for call in self:
            known = colleagues.get(pbx_of.get(call.user_id), {})
            for field, label in (("source", "source_label"), ("destination", "destination_label")):
                number = call[field] or ""
                colleague = known.get(number)
                call[label] = colleague.sudo().name if colleague else format_for_people(number)

    @api.depends("status")
    def _compute_answer_rate(self):
        for call in self:
            call.answer_rate = 100 if call.status in TALKED_STATUSES else 0

    @api.depends("direction", "source", "destination", "partner_id")
    def _compute_display_name(self):
        for call in self:
            who = call.partner_id.name or call._cti_number() or _("Unknown")
            call.display_name = (
                _("Call from %(who)s", who=who)
                if call.direction == "inbound"
                else _("Call to %(who)s", who=who)
            )

    def _cti_number(self):
        """The number of the other party: the caller of an inbound call, the callee of an
        outbound one."""
        self.ensure_one()
        return self.source if self.direction == "inbound" else self.destination

    # -- recording the engine's events -----------------------------------------------------

    @api.model
    def _cti_record_event(self, user, payload, when=None):
        """Record one reference event of ``user`` on the call it is about.

        Safe to call again with the same event, with events of a call already finished, and
        from several processes at once for the same call: each call of a user has exactly
        one row, and is logged on the chatter exactly once, when its first final event is
        recorded.

        :param user: ``res.users`` record whose CTI session emitted the event
        :param payload: the reference event, ``{"name": ..., "call": {...}}``; activity
            events (no ``call``) are ignored
        :param when: naive UTC datetime at which the event happened; now by default
        :return: the ``cti.call`` record, empty when the event is not about a call
        """
        # Rows are inserted in SQL, below the access checks: only the service may do that.
        self.browse().check_access("create")
        call_data = payload.get("call") if isinstance(payload, dict) else None
        event = payload.get("name") if isinstance(payload, dict) else None
        if event not in CALL_EVENTS or not isinstance(call_data, dict):
            return self.browse()
        direction = EVENT_DIRECTIONS.get(call_data.get("direction"))
        if not call_data.get("id") or not direction:
            _logger.warning("CTI event %s without a call id or direction: ignored", event)
            return self.browse()
        when = when or fields.Datetime.now()
        call = self._cti_lock_call(user, str(call_data["id"]), direction, when)
        if call.end_date:
            return call
        call._cti_apply_event(event, call_data, when)
        return call

    @api.model
    def _cti_open_calls(self, users):
        """The calls of ``users`` that the log has in progress, as the engine's call events
        describe them, newest last: a new agent continues them if they are still going on.

        :return: {user id: [{"id", "direction", "source", "destination", "status"}]}
        """
        calls = self.search(
            [("user_id", "in", users.ids), ("end_date", "=", False)], order="start_date, id"
        )
        directions = {value: key for key, value in EVENT_DIRECTIONS.items()}
        open_calls = {}
        for call in calls:
            open_calls.setdefault(call.user_id.id, []).append(
                {
                    "id": call.sip_call_id,
                    "direction": directions[call.direction],
                    "source": call.source or "",
                    "destination": call.destination or "",
                    "status": "CONNECTED" if call.status == "connected" else "RINGING",
                }
            )
        return open_calls

    def _cti_finish_unseen(self, user, active_ids, cause, before):
        """Finish the calls of ``user`` the log still has open but the user's agent does not
        see any more: they ended while no service process was watching (a crash, a restart,
        a lost database). Each gets its final event now, dated at its last known event, so it
        is logged exactly once with the times it really had.

        :param active_ids: ids of the calls the agent knows to be in progress
        :param before: only calls that started before this naive UTC datetime (the agent's
            READY), so a call starting right now is never mistaken for a lost one
        :return: the calls finished
        """
        calls = self.search(
            [
                ("user_id", "=", user.id),
                ("end_date", "=", False),
                ("start_date", "<", before),
                ("sip_call_id", "not in", list(active_ids)),
            ]
        )
        for call in calls:
            self._cti_record_event(
                user,
                {
                    "name": "HANGUP" if call.answer_date else "CANCEL",
                    "call": {
                        "id": call.sip_call_id,
                        "direction": "INBOUND" if call.direction == "inbound" else "OUTBOUND",
                        "source": call.source or "",
                        "destination": call.destination or "",
                        "cause": cause,
                    },
                },
                # Ended at its last known event (its last write), not when we noticed.
                when=call.write_date,
            )
        return calls

    @api.model
    def _cti_lock_call(self, user, sip_call_id, direction, when):
        """The row of the call, created if needed, locked until the end of the transaction.

        Why this is race-free: the unique constraint on ``(user_id, sip_call_id)`` lets no
        second row exist, and the upsert below either inserts the row or updates the
        existing one, which in both cases holds its row lock until commit. Two transactions
        recording events of the same call are therefore serialised on that lock: the second
        waits for the first to commit, and then, since Odoo runs transactions in REPEATABLE
        READ, PostgreSQL fails it with a serialization error instead of letting it act on a
        row it cannot see or on stale values; the caller retries it (as Odoo retries every
        request) and it then reads the committed row. So every event is applied to the
        latest state of the row, and only one transaction ever sees the call unfinished when
        it applies a final event: that one logs the call, the others change nothing.
        """
        self.flush_model()
        now = self.env.cr.now()
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO %(table)s (user_id, sip_call_id, company_id, direction, status,
                                       start_date, create_uid, create_date, write_uid,
                                       write_date)
                VALUES (%(user)s, %(sip_call_id)s, %(company)s, %(direction)s, 'ringing',
                        %(when)s, %(uid)s, %(now)s, %(uid)s, %(now)s)
                ON CONFLICT (user_id, sip_call_id)
                    DO UPDATE SET sip_call_id = EXCLUDED.sip_call_id
                RETURNING id, xmax = 0
                """,
                table=SQL.identifier(self._table),
                user=user.id,
                sip_call_id=sip_call_id,
                company=user.company_id.id,
                direction=direction,
                when=when,
                uid=self.env.uid,
                now=now,
            )
        )
        call_id, inserted = self.env.cr.fetchone()
        call = self.browse(call_id)
        if inserted:
            call.modified(["start_date", "status"], create=True)
        return call

    def _cti_apply_event(self, event, call_data, when):
        self.ensure_one()
        values = self._cti_party_values(call_data)
        if when < self.start_date:
            values["start_date"] = when
        if event == "CONNECTED" and not self.answer_date:
            values.update(answer_date=when, status="connected")
        elif event in FINAL_EVENTS:
            cause = call_data.get("cause") or ""
            values.update(end_date=when, hangup_cause=cause or False)
            if event == "HANGUP" and cause.strip().lower() == "transferred":
                values["status"] = "transferred"
                values["transferred_to"] = call_data.get("transferredTo") or False
            elif event == "HANGUP" and self.answer_date:
                values["status"] = "answered"
            elif event == "HANGUP" and self.direction == "outbound":
                values["status"] = "cancelled"
            else:
                # An inbound HANGUP never seen connected is recorded as it was observed: no
                # talk time, and a missed call to call back rather than a call lost silently.
                values["status"] = cancel_status(self.direction, cause)
        self.write(values)
        if event in FINAL_EVENTS:
            self._cti_log_on_chatter()
            self._cti_notify_logged()

    def _cti_party_values(self, call_data):
        """Numbers, contact, lead and company the event tells about, for what is unknown yet.

        ``origin`` (the record whose call button was clicked) comes from the browser: it is
        only linked when the user may read it. The first contact and lead known stay.
        """
        values = {}
        for field in ("source", "destination"):
            number = call_data.get(field)
            if number and number != self[field]:
                values[field] = number
        links = {"partner_id": call_data.get("partnerId"), "lead_id": call_data.get("leadId")}
        origin = call_data.get("origin")
        if isinstance(origin, dict) and origin.get("model") in ORIGIN_FIELDS:
            record = self._cti_readable_record(origin["model"], origin.get("id"))
            if record:
                links[ORIGIN_FIELDS[origin["model"]]] = record.id
        lead = self.lead_id or self._cti_readable_record("crm.lead", links["lead_id"])
        if lead and not self.lead_id:
            if lead.company_id and lead.company_id not in self.user_id.company_ids:
                lead = self.env["crm.lead"]
            else:
                values["lead_id"] = lead.id
                if lead.company_id and lead.company_id != self.company_id:
                    values["company_id"] = lead.company_id.id
        if not self.partner_id:
            partner = self._cti_readable_record("res.partner", links["partner_id"])
            partner = partner or lead.partner_id
            if partner:
                values["partner_id"] = partner.id
        return values

    def _cti_readable_record(self, model, record_id, user=None):
        """The record ``model``/``record_id`` if it exists and ``user`` (by default the
        call's user) may read it.

        :return: a record of ``model``, empty otherwise
        """
        try:
            record = self.env[model].browse(int(record_id or 0)).exists()
        except (TypeError, ValueError):
            return self.env[model]
        return record.browse(record.with_user(user or self.user_id)._filtered_access("read").ids)

    # -- logging the call on the chatter ---------------------------------------------------

    def _cti_activity_target(self):
        """Where the call is logged: the lead it is about, else its contact, else itself."""
        self.ensure_one()
        return self.lead_id or self.partner_id or self

    def _cti_log_on_chatter(self):
        """Log the finished call: a done "Call" activity when somebody talked or the user
        called out, a "call back" activity for the user on a missed inbound call.

        Activities are created as the call's user (with superuser rights), so that the
        chatter shows them as the author and they are not notified of their own activity.
        """
        self.ensure_one()
        target = self._cti_activity_target().with_user(self.user_id).sudo()
        today = fields.Date.context_today(self.with_context(tz=self.user_id.tz), self.end_date)
        number = self._cti_number() or _("an unknown number")
        if self.status == "missed":
            target.activity_schedule(
                "mail.mail_activity_data_call",
                date_deadline=today,
                summary=_("Call back %(number)s", number=number),
                note=_("Missed call on %(date)s.", date=self._cti_local_start()),
                user_id=self.user_id.id,
            )
            return
        if self.direction == "inbound" and self.status not in TALKED_STATUSES:
            return
        activity = target.activity_schedule(
            "mail.mail_activity_data_call",
            date_deadline=today,
            summary=(
                _("Inbound call from %(number)s", number=number)
                if self.direction == "inbound"
                else _("Outbound call to %(number)s", number=number)
            ),
            user_id=self.user_id.id,
        )
        activity._action_done(feedback=self._cti_outcome_text())

    def _cti_notify_logged(self):
        """Tell the call's user which records show the call now, so that a form of one of
        them open in their browser shows its new chatter activity and Calls count without a
        reload: Odoo pushes a record's new messages to inboxes, not to who views the record.

        The records are the call itself, its lead, and its contact with the contact's parent
        companies (a company counts its people's calls). Sent in the transaction that logs
        the call: a browser that receives it reads the log.
        """
        self.ensure_one()
        records = [{"model": self._name, "id": self.id}]
        records += [{"model": "crm.lead", "id": lead.id} for lead in self.lead_id]
        partner = self.partner_id
        while partner:
            records.append({"model": "res.partner", "id": partner.id})
            partner = partner.parent_id
        self.user_id._bus_send(
            "cti_connector/logged",
            {"callId": self.sip_call_id, "status": self.status, "records": records},
        )

    def _cti_outcome_text(self):
        self.ensure_one()
        outcome = dict(self._fields["status"]._description_selection(self.env))[self.status]
        lines = [
            _(
                "%(outcome)s, talk time %(duration)s",
                outcome=outcome,
                duration=format_seconds(self.duration),
            )
        ]
        if self.transferred_to:
            lines.append(_("Transferred to %(number)s", number=self.transferred_to))
        if self.hangup_cause and self.status not in ("answered", "transferred"):
            lines.append(_("Cause: %(cause)s", cause=self.hangup_cause))
        return "\n".join(lines)

    def _cti_local_start(self):
        return fields.Datetime.context_timestamp(
            self.with_context(tz=self.user_id.tz), self.start_date
        ).strftime("%Y-%m-%d %H:%M")

    # -- history of a partner or a lead -----------------------------------------------------

    @api.model
    def _cti_history_action(self, domain):
        """The call list restricted to ``domain``, e.g. the calls of a partner, with all the
        calls the user may see rather than only their own."""
        action = self.env["ir.actions.act_window"]._for_xml_id("cti_connector.action_cti_call")
        action["domain"] = domain
        action["context"] = {}
        return action
