from odoo import fields, models


class CrmLead(models.Model):
    """The call history of a lead or an opportunity."""

    _inherit = "crm.lead"

    cti_call_count = fields.Integer(
        string="Calls",
        compute="_compute_cti_call_count",
        groups="cti_connector.group_cti_user",
    )

    def _compute_cti_call_count(self):
        # Counted as the current user, so that a user counts only the calls they may open.
        counts = dict(
            self.env["cti.call"]._read_group(
                [("lead_id", "in", self.ids)], ["lead_id"], ["__count"]
            )
        )
        for lead in self:
            lead.cti_call_count = counts.get(lead, 0)

    def action_view_cti_calls(self):
        self.ensure_one()
        return self.env["cti.call"]._cti_history_action([("lead_id", "=", self.id)])
