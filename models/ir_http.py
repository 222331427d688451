from odoo import models


class IrHttp(models.AbstractModel):
    _inherit = "ir.http"

    def session_info(self):
        """Give the web client the user's screen pop preference, read at every RINGING."""
        info = super().session_info()
        if self.env.user._is_internal():
            info["cti_screen_pop"] = self.env.user.cti_screen_pop
        return info
