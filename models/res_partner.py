from odoo import api, models


class ResPartner(models.Model):
    """Partners identified by their phone or mobile when they call: a contact person before
    its company (the person is who is calling), then oldest first. A national number is read
    with the partner's country, else its company's, else the country of the Odoo company it
    belongs to (``cti.number.mixin``)."""

    _name = "res.partner"
    _inherit = ["res.partner", "cti.number.mixin"]
    _cti_number_order = "is_company, id"

    @api.depends("commercial_partner_id.country_id")
    def _compute_cti_numbers(self):
        return super()._compute_cti_numbers()

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
