from odoo import fields, models

SCREEN_POP_MODES = [
    ("off", "Off"),
    ("notify", "Notification Only"),
    ("open", "Open the Record"),
]


class ResUsers(models.Model):
    """What the web client does when a call rings for the user (the screen pop).

    The browser reads the preference from ``session_info`` (see ``ir.http``); saving the
    preferences form reloads the web client, so the tab that changed it applies the new
    value at once.
    """

    _inherit = "res.users"

    cti_screen_pop = fields.Selection(
        SCREEN_POP_MODES,
        string="Screen Pop",
        default="open",
        required=True,
        help="When a call rings: open the caller's contact (or lead) in one of your tabs, "
        "only show a notification, or do nothing.",
    )

    @property
    def SELF_READABLE_FIELDS(self):
        return super().SELF_READABLE_FIELDS + ["cti_screen_pop"]

    @property
    def SELF_WRITEABLE_FIELDS(self):
        return super().SELF_WRITEABLE_FIELDS + ["cti_screen_pop"]
