from odoo import api, models


class CtiPush(models.AbstractModel):
    """The push's hook for colleagues' line states (see ``cti.line.state``)."""

    _inherit = "cti.push"

    @api.model
    def _cti_derive(self, events, account_of):
        channels = super()._cti_derive(events, account_of)
        return channels + self.env["cti.line.state"]._cti_track(events, account_of)
