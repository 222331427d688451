from odoo import api, fields, models

CTI_USER_FIELDS = ["cti_account_id", "cti_username", "cti_auto_login"]


class ResUsers(models.Model):
    """The user's own CTI settings, editable from their preferences.

    ``cti_password`` is write-only: it always reads empty, and a value written to it
    replaces the account's SIP password. The preferences form thus never sends the
    password to the browser, and ``session_info`` (built from ``res.users``) cannot
    carry it.
    """

    _inherit = "res.users"

    cti_account_id = fields.Many2one(
        "cti.account",
        string="CTI Account",
        compute="_compute_cti_account_id",
        groups="base.group_user",
    )
    cti_username = fields.Char(
        string="Extension",
        compute="_compute_cti_settings",
        groups="base.group_user",
        help="Set by a CTI manager on the account.",
    )
    cti_auto_login = fields.Boolean(
        string="Log In to the PBX Automatically",
        compute="_compute_cti_settings",
        inverse="_inverse_cti_auto_login",
        groups="base.group_user",
    )
    cti_password = fields.Char(
        string="New SIP Password",
        compute="_compute_cti_password",
        inverse="_inverse_cti_password",
        groups="base.group_user",
        help="Leave empty to keep the current SIP password.",
    )

    @property
    def SELF_READABLE_FIELDS(self):
        return super().SELF_READABLE_FIELDS + CTI_USER_FIELDS + ["cti_password"]

    @property
    def SELF_WRITEABLE_FIELDS(self):
        return super().SELF_WRITEABLE_FIELDS + ["cti_auto_login", "cti_password"]

    def _compute_cti_account_id(self):
        accounts = (
            self.env["cti.account"].sudo().search([("user_id", "in", self.ids)]).grouped("user_id")
        )
        for user in self:
            user.cti_account_id = accounts.get(user._origin, self.env["cti.account"])[:1]

    @api.depends("cti_account_id")
    def _compute_cti_settings(self):
        for user in self:
            account = user.cti_account_id.sudo()
            user.cti_username = account.username
            user.cti_auto_login = account.auto_login

    def _compute_cti_password(self):
        for user in self:
            user.cti_password = False

    def _cti_account_as_user(self):
        """The user's CTI account in an environment without superuser rights, so that the
        account's own access rules decide who may change it (its owner or a CTI manager),
        also when ``res.users`` writes the user's own fields as superuser.

        :return: ``cti.account`` recordset, empty when the user has no account
        """
        self.ensure_one()
        return self.cti_account_id.with_env(self.env(su=False))

    def _inverse_cti_auto_login(self):
        for user in self:
            account = user._cti_account_as_user()
            if account:
                account.auto_login = user.cti_auto_login

    def _inverse_cti_password(self):
        for user in self:
            account = user._cti_account_as_user()
            if account and user.cti_password:
                account.password = user.cti_password

    @classmethod
    def _login(cls, db, credential, user_agent_env):
        """A person logging in to the web client is also logged in to the CTI when their
        account says so; a script authenticating over XML-RPC/JSON-RPC (non-interactive)
        is not a person at a desk phone."""
        auth_info = super()._login(db, credential, user_agent_env=user_agent_env)
        if (user_agent_env or {}).get("interactive"):
            with cls.pool.cursor() as cr:
                # Bound to a name so that it is alive at the commit that ends the block:
                # a commit flushes the environments its transaction still holds, weakly.
                env = api.Environment(cr, auth_info["uid"], {})
                env["res.users"]._cti_auto_login()
        return auth_info

    @api.model
    def _cti_auto_login(self):
        """Start the current user's CTI session if their account logs in automatically."""
        account = (
            self.env["cti.account"]
            .sudo()
            .search([("user_id", "=", self.env.uid), ("auto_login", "=", True)], limit=1)
        )
        if account and not account.session_wanted:
            account._cti_request_session(True)
