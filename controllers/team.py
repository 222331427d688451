"""``/cti/team``: the colleagues' lines a CTI user may watch, and what the browser needs
to name its own line as the reference does (``extension@domain``)."""

from odoo import http
from odoo.http import request


class CtiTeamController(http.Controller):
    @http.route("/cti/team", type="json", auth="user")
    def team(self):
        """:return: ``{"enabled", "me": {userId, name, extension, domain, pbxId}, "members"}``,
        ``members`` as ``cti.line.state._cti_team`` lists them"""
        env = request.env
        me = {"userId": env.uid, "name": env.user.name, "extension": "", "domain": ""}
        Account = env["cti.account"]
        if not Account.has_access("read"):
            return {"enabled": False, "me": me, "members": []}
        account = Account.search([("user_id", "=", env.uid)], limit=1)
        me.update(
            extension=account.username or "",
            domain=account.pbx_id.domain or "",
            pbxId=account.pbx_id.id,
        )
        if not account.pbx_id.share_line_states:
            return {"enabled": False, "me": me, "members": []}
        return {"enabled": True, "me": me, "members": env["cti.line.state"]._cti_team(env.user)}
