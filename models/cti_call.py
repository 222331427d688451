from odoo import _, api, fields, models

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


class CtiCall(models.Model):
    """One call of a user, as observed by the CTI service.

    The service creates the row when the call starts and finishes it when the call ends;
    ``(user_id, sip_call_id)`` identifies it, so that writing the same call twice (a
    replayed event, a second node) updates the row instead of logging the call again.
    """

    _name = "cti.call"
    _description = "CTI Call"
    _order = "start_date desc, id desc"
    _check_company_auto = True

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
        string="Talk Time (s)",
        compute="_compute_durations",
        store=True,
        aggregator="sum",
        help="Seconds from answer to hang-up; 0 for a call that was never answered.",
    )
    ring_duration = fields.Integer(
        string="Ring Time (s)",
        compute="_compute_durations",
        store=True,
        aggregator="avg",
        help="Seconds from the start of the call until it was answered or given up.",
    )
    hangup_cause = fields.Char(help="Why the call ended or failed, as reported by the PBX.")
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

    @api.depends("direction", "source", "destination", "partner_id")
    def _compute_display_name(self):
        for call in self:
            number = call.source if call.direction == "inbound" else call.destination
            who = call.partner_id.name or number or _("Unknown")
            call.display_name = (
                _("Call from %(who)s", who=who)
                if call.direction == "inbound"
                else _("Call to %(who)s", who=who)
            )
