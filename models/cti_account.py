import logging
import re

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import SQL

from ..cti_engine.events import SESSION_STATES as ENGINE_SESSION_STATES
from ..cti_engine.sip import CONTROL_CHARACTERS, SIP_USER
from ..service import secret

_logger = logging.getLogger(__name__)

# One "Name: value" header line, nothing that could start a second header.
SIP_HEADER_RE = re.compile(r"^[A-Za-z0-9\-!%*_+`'~.]+:[ \t]*[^\r\n]+$")

CTI_MANAGER_GROUP = "cti_connector.group_cti_manager"
# The engine agent's states (``cti_engine.events.SESSION_STATES``), as shown to people.
SESSION_STATE_LABELS = {
    "logged_out": "Offline",
    "connecting": "Connecting",
    "ready": "Ready",
    "reconnecting": "Reconnecting",
    "failed": "Failed",
}
SESSION_STATES = [(state, SESSION_STATE_LABELS[state]) for state in ENGINE_SESSION_STATES]


class CtiAccount(models.Model):
    """The SIP account a user's calls go through: one per user.

    The SIP password needs special care. The service needs it in clear text (digest
    authentication hashes it with a realm and algorithm only the PBX's challenge names, so
    a hash cannot be stored instead), and a plain stored field would hand it to anyone who
    can read the record (``read``, ``export_data``, search domains as an oracle, the record
    cache) and put it in every SQL statement that writes it, which Odoo (``--log-sql``, a
    failing statement) and PostgreSQL (``log_statement``) may log. So:

    * it is encrypted in Python (:mod:`..service.secret`, a Fernet key from the server's
      configuration) before any statement carries it, and only the service host decrypts
      it, in memory, for the agent (:meth:`_cti_agent_config`);
    * the token lives in a ``password`` column that :meth:`init` adds to the table and that
      no stored field maps: the ORM never selects, groups or exports it;
    * the ``password`` field is write-only: it reads ``False`` for everyone, managers and
      the owner included; :meth:`_inverse_password` lets the owner and CTI managers set it;
    * ``groups`` hides the field from users outside the CTI groups altogether;
    * the users' preferences form sets it through the write-only ``res.users.cti_password``.

    The extension and authentication user name decide whose line the agent watches and
    controls, so only CTI managers set them, and no two accounts of a PBX share one.
    """

    _name = "cti.account"
    _description = "CTI Account"
    _order = "user_id, id"
    _check_company_auto = True

    # Fields a CTI user may change on their own account; the rest is the managers' business.
    USER_WRITEABLE_FIELDS = frozenset({"password", "auto_login"})

    user_id = fields.Many2one(
        "res.users",
        string="User",
        required=True,
        ondelete="cascade",
        index=True,
        domain=[("share", "=", False)],
    )
    pbx_id = fields.Many2one(
        "cti.pbx", string="PBX", required=True, ondelete="restrict", check_company=True
    )
    username = fields.Char(
        string="Extension",
        required=True,
        help="SIP user of the account, usually the extension number (the 1001 of "
        "sip:1001@pbx.example.com).",
    )
    auth_username = fields.Char(
        string="Authentication Username",
        compute="_compute_auth_username",
        store=True,
        readonly=False,
        help="User name for digest authentication when the PBX wants one that differs "
        "from the extension; defaults to the extension.",
    )
    password = fields.Char(
        string="SIP Password",
        compute="_compute_password",
        inverse="_inverse_password",
        copy=False,
        groups="cti_connector.group_cti_user",
        help="Write-only: the owner or a CTI manager sets it, nobody reads it back.",
    )
    auto_login = fields.Boolean(
        string="Log In Automatically",
        help="Log the user in to the PBX whenever they have an Odoo session, instead of "
        "waiting for an explicit login from the softphone.",
    )
    auto_answer_header = fields.Char(
        help="Header added to the INVITE that rings the user's own phone for click-to-call, "
        "so that the device answers by itself, e.g. 'Call-Info: <sip:pbx>;answer-after=0' "
        "or 'Alert-Info: info=alert-autoanswer'.",
    )
    active = fields.Boolean(default=True)
    company_id = fields.Many2one(
        "res.company", string="Company", default=lambda self: self.env.company, index=True
    )
    session_wanted = fields.Boolean(
        string="Logged In to the CTI",
        readonly=True,
        copy=False,
        help="Whether the service should hold a SIP session for this user: set by CTI "
        "login (or web login with automatic login), cleared by CTI logout.",
    )
    session_state = fields.Selection(
        SESSION_STATES,
        readonly=True,
        copy=False,
        default="logged_out",
        help="What the service last reported about this user's SIP session.",
    )
    session_message = fields.Char(readonly=True, copy=False)

    _sql_constraints = [
        ("user_uniq", "unique(user_id)", "A user can only have one CTI account."),
    ]

    def init(self):
        self.env.cr.execute("ALTER TABLE cti_account ADD COLUMN IF NOT EXISTS password varchar")
        self._cti_encrypt_clear_passwords()

    @api.model
    def _cti_encrypt_clear_passwords(self):
        """Encrypt the passwords an older release stored in clear, when a key is set (at
        each module update); without a key they stay as they are, with a warning."""
        self.env.cr.execute("SELECT id, password FROM cti_account WHERE password IS NOT NULL")
        clear = [
            (id_, value) for id_, value in self.env.cr.fetchall() if not secret.is_token(value)
        ]
        if not clear:
            return
        try:
            tokens = [(secret.encrypt(value), id_) for id_, value in clear]
        except secret.SecretKeyError as exc:
            _logger.warning("CTI: %d SIP password(s) stored in clear: %s", len(clear), exc)
            return
        for token, id_ in tokens:
            self.env.cr.execute("UPDATE cti_account SET password = %s WHERE id = %s", [token, id_])
        _logger.info("CTI: encrypted %d SIP password(s) stored in clear", len(clear))

    @api.model
    def _cti_rotate_passwords(self):
        """Re-encrypt every stored SIP password with the newest key of ``secret_key`` (see
        docs/security.rst: add the new key first, run this, then drop the old key).

        The PBXs' Manager Interface secrets, kept the same way, are re-encrypted too.

        :return: how many passwords and secrets were re-encrypted
        """
        count = 0
        for table, column in (("cti_account", "password"), ("cti_pbx", "ami_secret")):
            col, tab = SQL.identifier(column), SQL.identifier(table)
            self.env.cr.execute(SQL("SELECT id, %s FROM %s WHERE %s IS NOT NULL", col, tab, col))
            rows = self.env.cr.fetchall()
            for id_, token in rows:
                new = secret.rotate(token) if secret.is_token(token) else secret.encrypt(token)
                self.env.cr.execute(SQL("UPDATE %s SET %s = %s WHERE id = %s", tab, col, new, id_))
            count += len(rows)
        return count

    @api.depends("username")
    def _compute_auth_username(self):
        for account in self:
            if not account.auth_username:
                account.auth_username = account.username

    @api.depends("user_id", "username", "pbx_id.domain")
    def _compute_display_name(self):
        for account in self:
            address = account.username or ""
            if account.pbx_id.domain:
                address = f"{address}@{account.pbx_id.domain}"
            account.display_name = (
                f"{account.user_id.name} ({address})" if account.user_id else address
            )

    def _may_access_password(self):
        """Whether the current user may read and write the password of every account in
        ``self``: they own it, or they are a CTI manager or the superuser (uid 1, e.g. the
        CTI service host).

        :return: bool
        """
        user = self.env.user
        return (
            user._is_superuser()
            or user.has_group(CTI_MANAGER_GROUP)
            or all(account.user_id == user for account in self)
        )

    def _compute_password(self):
        self.password = False

    def _inverse_password(self):
        if not self._may_access_password():
            raise AccessError(
                _("Only the account's owner or a CTI manager can change its SIP password.")
            )
        for account in self:
            try:
                token = secret.encrypt(account.password) if account.password else None
            except secret.SecretKeyError as exc:
                raise UserError(
                    _("The SIP password cannot be stored: %(reason)s.", reason=exc)
                ) from None
            self.env.cr.execute(
                "UPDATE cti_account SET password = %s WHERE id = %s", [token, account.id]
            )
        self.invalidate_recordset(["password"])

    def _cti_stored_password(self):
        """The SIP password in clear, for the service host's agent only; None when there is
        none or it cannot be decrypted (logged, without the value)."""
        self.ensure_one()
        self.env.cr.execute("SELECT password FROM cti_account WHERE id = %s", [self.id])
        stored = self.env.cr.fetchone()[0]
        if not stored:
            return None
        if not secret.is_token(stored):
            return stored  # from an older release, until a key is set and the module updated
        try:
            return secret.decrypt(stored)
        except secret.SecretKeyError as exc:
            _logger.warning("CTI: account %s cannot be used: %s", self.id, exc)
            return None

    @api.constrains("username", "auth_username")
    def _check_usernames(self):
        for account in self:
            for value in (account.username, account.auth_username):
                if value and not SIP_USER.match(value):
                    raise ValidationError(_("%(value)s is not a valid SIP user name.", value=value))

    @api.constrains("pbx_id", "username", "auth_username")
    def _check_own_line(self):
        for account in self:
            names = {account.username, account.auth_username} - {False, None, ""}
            clash = (
                self.with_context(active_test=False)
                .sudo()
                .search_count(
                    [
                        ("id", "!=", account.id),
                        ("pbx_id", "=", account.pbx_id.id),
                        "|",
                        ("username", "in", list(names)),
                        ("auth_username", "in", list(names)),
                    ],
                    limit=1,
                )
            )
            if clash:
                raise ValidationError(
                    _(
                        "Another CTI account of this PBX already uses %(names)s.",
                        names=", ".join(sorted(names)),
                    )
                )

    @api.constrains("auto_answer_header")
    def _check_auto_answer_header(self):
        for account in self:
            header = account.auto_answer_header
            if header and (not SIP_HEADER_RE.match(header) or CONTROL_CHARACTERS.search(header)):
                raise ValidationError(
                    _(
                        "The auto-answer header must be a single 'Name: value' line, "
                        "e.g. 'Call-Info: answer-after=0'."
                    )
                )

    @api.constrains("user_id", "company_id")
    def _check_user_company(self):
        for account in self:
            if account.company_id and account.company_id not in account.user_id.company_ids:
                raise ValidationError(
                    _(
                        "%(user)s cannot use an account of %(company)s.",
                        user=account.user_id.name,
                        company=account.company_id.name,
                    )
                )

    def write(self, vals):
        if (
            not self.env.su
            and not set(vals) <= self.USER_WRITEABLE_FIELDS
            and not self.env.user.has_group(CTI_MANAGER_GROUP)
        ):
            raise AccessError(_("Only CTI managers can change these account settings."))
        # An authentication username that was the default keeps following the extension.
        following = self.browse()
        if vals.get("username") and "auth_username" not in vals:
            following = self.filtered(lambda account: account.auth_username == account.username)
        result = super().write(vals)
        if following:
            super(CtiAccount, following).write({"auth_username": vals["username"]})
        return result

    # -- CTI session ---------------------------------------------------------------------

    def _cti_request_session(self, wanted):
        """Ask the service to hold (or to end) this account's SIP session; asking for what
        is already asked changes nothing (no reconnection, no dropped call).

        The service hosts notice the change through ``NOTIFY cti_session`` at commit.
        """
        self.ensure_one()
        if self.session_wanted == wanted:
            return
        self.sudo().session_wanted = wanted
        self.env.cr.execute("SELECT pg_notify('cti_session', %s)", (str(self.user_id.id),))

    def _cti_country(self):
        """The country this account's numbers are read with when nothing better says (a
        number on a record: ``cti_number.record_country`` first): the PBX's, else the
        account's company's."""
        self.ensure_one()
        return self.pbx_id.country_id or self.company_id.country_id

    def _cti_agent_config(self):
        """Settings of the engine's agent for this account, read by the service host as
        superuser; ``None`` when the account cannot be used.

        :return: keyword arguments of ``cti_engine.AgentConfig``
        """
        self.ensure_one()
        pbx = self.pbx_id
        password = self._cti_stored_password()
        if not (pbx.ws_url and pbx.domain and self.username and password):
            return None
        country = self._cti_country()
        return {
            "ws_url": pbx.ws_url,
            "domain": pbx.domain,
            "username": self.username,
            "password": password,
            "auth_username": self.auth_username or "",
            "display_name": self.user_id.name or "",
            "default_country": country.code or "",
            "verify_tls": pbx.verify_tls,
            "ca_bundle": pbx.ca_bundle or "",
            "auto_answer_header": self.auto_answer_header or "",
            "subscribe_expires": pbx.register_expires,
        }
