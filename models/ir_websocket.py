from odoo import models

from .cti_line_state import LINE_CHANNEL

CTI_USER_GROUP = "cti_connector.group_cti_user"


class IrWebsocket(models.AbstractModel):
    _inherit = "ir.websocket"

    def _build_bus_channel_list(self, channels):
        """CTI users listen to their companies' line states (``cti.line.state``)."""
        channels = super()._build_bus_channel_list(channels)
        user = self.env.user
        if user and not user._is_public() and user.has_group(CTI_USER_GROUP):
            channels.extend((company, LINE_CHANNEL) for company in user.company_ids)
        return channels
