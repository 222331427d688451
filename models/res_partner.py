from odoo import api, models

from .cti_number import create_suffix_indexes, e164_field, match_numbers, stored_number


class ResPartner(models.Model):
    """Partners identified by their phone or mobile when they call.

    National numbers read with the partner's country, else its company's (the commercial
    partner's), else the country of the Odoo company it belongs to, else the current
    company's (what Odoo's own ``_phone_format`` falls back to).
    """

    _inherit = "res.partner"

    phone_e164 = e164_field("Phone (E.164)", "phone")
    mobile_e164 = e164_field("Mobile (E.164)", "mobile")

    def init(self):
        super().init()
        create_suffix_indexes(self)

    @api.depends(
        "phone",
        "mobile",
        "country_id",
        "commercial_partner_id.country_id",
        "company_id.country_id",
    )
    def _compute_cti_numbers(self):
        for partner in self:
            country = (
                partner.country_id
                or partner.commercial_partner_id.country_id
                or partner.company_id.country_id
                or self.env.company.country_id
            )
            partner.phone_e164 = stored_number(partner.phone, country.code)
            partner.mobile_e164 = stored_number(partner.mobile, country.code)

    @api.model
    def _cti_match_number(self, number, country_code=None):
        """Partners whose phone or mobile is the caller's number: :meth:`_cti_match_numbers`
        for one number."""
        return self._cti_match_numbers([number], country_code)[number]

    @api.model
    def _cti_match_numbers(self, numbers, country_code=None):
        """Partners whose phone or mobile is each caller's number, a contact person before
        its company (the person is who is calling), then oldest first.

        See :func:`~odoo.addons.cti_connector.models.cti_number.match_numbers`.
        """
        return match_numbers(self, numbers, country_code, order="is_company, id")

    @api.model
    def _cti_caller_info(self, number, country_code=None):
        """Who is calling: :meth:`_cti_callers_info` for one number."""
        return self._cti_callers_info([number], country_code)[number]

    @api.model
    def _cti_callers_info(self, numbers, country_code=None):
        """Who is calling, for each caller id of ``numbers``: the keys the service host adds
        to the events of a call. All the numbers are looked up together (a burst of calls
        costs a few queries, not a few per call).

        Searched as the environment's user: call it with ``env(user=uid)``, never sudo, so
        that nobody learns a name they may not read. Leads are left out for users without
        access to them.

        :param numbers: caller ids as the PBX sends them (any format, anonymous allowed)
        :param str country_code: ISO code of the PBX's default country
        :return: ``{number: info}``, info being a dict with ``partnerId``/``partnerName``
            and ``leadId``/``leadName`` of the best matches (False when none) and
            ``matches``, every match best first, as ``{"model", "id", "name"}``
        """
        partners = self._cti_match_numbers(numbers, country_code)
        Lead = self.env["crm.lead"]
        if Lead.has_access("read"):
            leads = Lead._cti_match_numbers(numbers, country_code)
        else:
            leads = dict.fromkeys(partners, Lead)
        result = {}
        for number, found in partners.items():
            lead = leads[number]
            result[number] = {
                "partnerId": found[:1].id or False,
                "partnerName": found[:1].display_name or False,
                "leadId": lead[:1].id or False,
                "leadName": lead[:1].display_name or False,
                "matches": [
                    {"model": record._name, "id": record.id, "name": record.display_name}
                    for record in [*found, *lead]
                ],
            }
        return result
