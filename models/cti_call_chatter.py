"""A finished call on the chatter: the activity it leaves, and the word to the browsers
that show the records it is logged on."""

from odoo import _, fields, models

from .cti_call import TALKED_STATUSES, format_seconds


class CtiCall(models.Model):
    _inherit = "cti.call"

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
