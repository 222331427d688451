from odoo import api, models


class CrmLead(models.Model):
    """Leads and opportunities identified by their phone or mobile when they call, the most
    recent first (the one the call is most likely about); lost (archived) leads are not
    matched. A national number is read with the lead's country, else its customer's or the
    customer's company's, else its company's (``cti.number.mixin``)."""

    _name = "crm.lead"
    _inherit = ["crm.lead", "cti.number.mixin"]
    _cti_number_order = "id desc"

    @api.depends("partner_id.country_id", "partner_id.commercial_partner_id.country_id")
    def _compute_cti_numbers(self):
        return super()._compute_cti_numbers()
