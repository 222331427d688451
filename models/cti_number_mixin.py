from odoo import api, models

from ..cti_engine.phone import stored_number
from .cti_number import create_suffix_indexes, e164_field, match_numbers, record_country


class CtiNumberMixin(models.AbstractModel):
    """A model whose ``phone`` and ``mobile`` identify callers: their E.164 copies
    (``phone_e164``, ``mobile_e164``), indexed, and the search by caller id.

    A national number is read with :func:`~.cti_number.record_country`, else the current
    company's country (what Odoo's own ``_phone_format`` falls back to). A model using the
    mixin extends ``_compute_cti_numbers`` with the ``@api.depends`` of the fields that
    country comes from, and sets ``_cti_number_order``, how the matches of one number rank.
    """

    _name = "cti.number.mixin"
    _description = "CTI Caller Identification"
    _cti_number_order = "id"

    phone_e164 = e164_field("Phone (E.164)", "phone")
    mobile_e164 = e164_field("Mobile (E.164)", "mobile")

    def _auto_init(self):
        # not ``init()``: that name is public, callable over RPC
        result = super()._auto_init()
        if not self._abstract:
            create_suffix_indexes(self)
        return result

    # Of the model using the mixin (the mixin itself has none of these fields).
    @api.depends(
        lambda self: [
            name
            for name in ("phone", "mobile", "country_id", "company_id.country_id")
            if name.split(".")[0] in self._fields
        ]
    )
    def _compute_cti_numbers(self):
        for record in self:
            country = record_country(record) or self.env.company.country_id
            record.phone_e164 = stored_number(record.phone, country.code)
            record.mobile_e164 = stored_number(record.mobile, country.code)

    @api.model
    def _cti_match_number(self, number, country_code=None):
        """The records whose phone or mobile is the caller's number:
        :meth:`_cti_match_numbers` for one number."""
        return self._cti_match_numbers([number], country_code)[number]

    @api.model
    def _cti_match_numbers(self, numbers, country_code=None):
        """The records whose phone or mobile is each caller's number, in
        ``_cti_number_order``; see :func:`~.cti_number.match_numbers`."""
        return match_numbers(self, numbers, country_code, order=self._cti_number_order)
