from odoo import api, models

from .cti_number import create_suffix_indexes, e164_field, match_numbers, stored_number


class CrmLead(models.Model):
    """Leads and opportunities identified by their phone or mobile when they call.

    National numbers read with the lead's country, else its company's, else the current
    company's. Lost (archived) leads are not matched.
    """

    _inherit = "crm.lead"

    phone_e164 = e164_field("Phone (E.164)", "phone")
    mobile_e164 = e164_field("Mobile (E.164)", "mobile")

    def init(self):
        super().init()
        create_suffix_indexes(self)

    @api.depends("phone", "mobile", "country_id", "company_id.country_id")
    def _compute_cti_numbers(self):
        for lead in self:
            country = lead.country_id or lead.company_id.country_id or self.env.company.country_id
            lead.phone_e164 = stored_number(lead.phone, country.code)
            lead.mobile_e164 = stored_number(lead.mobile, country.code)

    @api.model
    def _cti_match_number(self, number, country_code=None):
        """Leads whose phone or mobile is the caller's number: :meth:`_cti_match_numbers`
        for one number."""
        return self._cti_match_numbers([number], country_code)[number]

    @api.model
    def _cti_match_numbers(self, numbers, country_code=None):
        """Leads whose phone or mobile is each caller's number, the most recent first (the
        one the call is most likely about).

        See :func:`~odoo.addons.cti_connector.models.cti_number.match_numbers`.
        """
        return match_numbers(self, numbers, country_code, order="id desc")
