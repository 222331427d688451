from odoo import fields, models


class ResPartner(models.Model):
    """The call history of a contact, with its people for a company."""

    _inherit = "res.partner"

    cti_call_count = fields.Integer(
        string="Calls",
        compute="_compute_cti_call_count",
        groups="cti_connector.group_cti_user",
    )

    def _compute_cti_call_count(self):
        # Counted as the current user, so that a user counts only the calls they may open.
        all_partners = self.with_context(active_test=False).search_fetch(
            [("id", "child_of", self.ids)], ["parent_id"]
        )
        counts = self.env["cti.call"]._read_group(
            [("partner_id", "in", all_partners.ids)], ["partner_id"], ["__count"]
        )
        self.cti_call_count = 0
        self_ids = set(self._ids)
        for called, count in counts:
            partner = called
            while partner:
                if partner.id in self_ids:
                    partner.cti_call_count += count
                partner = partner.parent_id

    def action_view_cti_calls(self):
        self.ensure_one()
        return self.env["cti.call"]._cti_history_action([("partner_id", "child_of", self.id)])
