from odoo import models

from ..cti_engine import vocabulary
from .cti_call import TALKED_STATUSES


class IrHttp(models.AbstractModel):
    _inherit = "ir.http"

    def session_info(self):
        """Give the web client the user's screen pop preference, read at every RINGING, the
        last bus notification written before the page (the bus hands a new tab the
        notifications of the last 50 seconds again, and those must not pop anything), and
        the terms it shares with the server (``cti_engine.vocabulary``), session states
        and call causes with their labels in the user's language."""
        info = super().session_info()
        if self.env.user._is_internal():
            info["cti_screen_pop"] = self.env.user.cti_screen_pop
            # sudo - bus.bus: the last notification id is not sensitive (as in mail)
            info["cti_bus_last_id"] = self.env["bus.bus"].sudo()._bus_last_id()
            labels = (
                self.env["cti.account"]._fields["session_state"]._description_selection(self.env)
            )
            info["cti_vocabulary"] = {
                **vocabulary.as_json(),
                "sessionStateLabels": dict(labels),
                "talkedStatuses": list(TALKED_STATUSES),
                "causeLabels": self.env["cti.notice"]._cti_cause_labels(),
            }
        return info
