from odoo import api, models


class ResUsers(models.Model):
    """Colleagues by extension: an internal call shows Bob, not "1002"."""

    _inherit = "res.users"

    @api.model
    def _cti_colleagues_by_extension(self, pbx, extensions=None):
        """The users whose CTI account on ``pbx`` has one of ``extensions`` (every
        extension when None), among the current user's companies. Extensions are a PBX's
        own: 1001 on one PBX is not 1001 on another.

        Extensions and names are what colleagues show each other on their phones, so they
        are read as superuser: a CTI user may read only their own account.

        :param pbx: a ``cti.pbx`` record; no colleagues when empty
        :return: ``{extension: res.users}``
        """
        if not pbx:
            return {}
        domain = [
            ("pbx_id", "=", pbx.id),
            ("user_id.active", "=", True),
            ("company_id", "in", [*self.env.companies.ids, False]),
        ]
        if extensions is not None:
            domain.append(("username", "in", list(extensions)))
        accounts = self.env["cti.account"].sudo().search(domain, order="id")
        colleagues = {}
        for account in accounts:
            colleagues.setdefault(account.username, account.user_id)
        return {extension: user.with_env(self.env) for extension, user in colleagues.items()}

    @api.model
    def cti_colleagues(self):
        """For the softphone and the screen pop: the extensions of the current user's
        colleagues on their PBX.

        :return: ``{extension: {"id": user id, "name": user name}}``, empty for users
            without a CTI account
        """
        if not self.env.user.has_group("cti_connector.group_cti_user"):
            return {}
        pbx = self.env.user.sudo().cti_account_id.pbx_id
        return {
            extension: {"id": user.id, "name": user.sudo().name}
            for extension, user in self._cti_colleagues_by_extension(pbx).items()
        }
