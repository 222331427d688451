"""The call log: one row per call of a user, what became of it and how long it lasted.

How events fill a row is in ``cti_call_events.py``; what a finished call leaves on the
chatter is in ``cti_call_chatter.py``.
"""

from odoo import _, api, fields, models
from odoo.tools.translate import LazyTranslate

from ..cti_engine.events import FINAL_EVENTS as ENGINE_FINAL_EVENTS
from ..cti_engine.events import OWN_PHONE_CAUSES
from ..cti_engine.phone import format_for_people

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

    # -- history of a partner or a lead -----------------------------------------------------

    @api.model
    def _cti_history_action(self, domain):
        """The call list restricted to ``domain``, e.g. the calls of a partner, with all the
        calls the user may see rather than only their own."""
        action = self.env["ir.actions.act_window"]._for_xml_id("cti_connector.action_cti_call")
        action["domain"] = domain
        action["context"] = {}
        return action
