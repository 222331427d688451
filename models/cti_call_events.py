"""How the engine's call events become the call log: one row per call of a user, whatever
the order, the repetitions and the number of processes that record them."""

import logging

from odoo import api, fields, models
from odoo.tools import SQL

from .cti_call import (
    CALL_EVENTS,
    EVENT_DIRECTIONS,
    FINAL_EVENTS,
    ORIGIN_FIELDS,
    cancel_status,
)

_logger = logging.getLogger(__name__)


class CtiCall(models.Model):
    _inherit = "cti.call"

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
