import re

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, ValidationError

# RFC 3261 "user" part: unreserved, escaped and user-unreserved characters. Anything else
# (spaces, "@", ":", "<", CR/LF...) could break out of a SIP URI or header.
SIP_USER_RE = re.compile(r"^[A-Za-z0-9\-_.!~*'()&=+$,;?/%]+$")
# One "Name: value" header line, nothing that could start a second header.
SIP_HEADER_RE = re.compile(r"^[A-Za-z0-9\-!%*_+`'~.]+:[ \t]*[^\r\n]+$")

CTI_MANAGER_GROUP = "cti_connector.group_cti_manager"
# The engine agent's states, as shown to people.
SESSION_STATES = [
    ("logged_out", "Offline"),
    ("connecting", "Connecting"),
    ("ready", "Ready"),
    ("reconnecting", "Reconnecting"),
    ("failed", "Failed"),
]


class CtiAccount(models.Model):
    """The SIP account a user's calls go through: one per user.

    The SIP password needs special care. The service needs it in clear text (digest
    authentication hashes it with a realm and algorithm only the PBX's challenge names, so
    a hash cannot be stored instead), and a plain stored field would hand it to anyone who
    can read the record: ``read``, ``search_read``, ``web_read``, ``export_data``,
    ``read_group``, search domains used as an oracle, and the record cache that every
    environment of a transaction shares. So, like ``res.users.password``:

    * the secret lives in a ``password`` column that :meth:`init` adds to the table and
      that no stored field maps: the ORM never selects, groups or exports it, and ignores
      it in search domains;
    * the ``password`` field is computed and not stored: :meth:`_compute_password` reads
      the column for the account's owner and CTI managers and yields ``False`` for anyone
      else, even under ``sudo()`` (what counts is the user, not the superuser flag), so a
      plain user who gets at another's account by any path still sees no password. The
      service host reads it as the superuser, who is a CTI manager;
    * ``depends_context('uid')`` keys the cached value by user, so a value computed for a
      manager is never served from the cache to another user in the same transaction;
    * :meth:`_inverse_password` writes the column under the same owner-or-manager check;
    * ``groups`` hides the field from users outside the CTI groups altogether (portal and
      plain internal users get an access error, not even an empty value);
    * nothing puts it in ``session_info``, the bus or the logs, and the users' preferences
      form edits it through the write-only ``res.users.cti_password``, so the browser of a
      user never receives it.
    """

    _name = "cti.account"
    _description = "CTI Account"
    _order = "user_id, id"
    _check_company_auto = True

    # Fields a CTI user may change on their own account; the rest is the managers' business.
    USER_WRITEABLE_FIELDS = frozenset({"username", "auth_username", "password", "auto_login"})

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
        help="Readable only by the account's owner and CTI managers.",
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

    @api.depends_context("uid")
    def _compute_password(self):
        stored = {}
        allowed = self.filtered(lambda a: a.id and a._may_access_password())
        if allowed:
            self.env.cr.execute(
                "SELECT id, password FROM cti_account WHERE id IN %s", [tuple(allowed.ids)]
            )
            stored = dict(self.env.cr.fetchall())
        for account in self:
            account.password = stored.get(account.id) or False

    def _inverse_password(self):
        if not self._may_access_password():
            raise AccessError(
                _("Only the account's owner or a CTI manager can change its SIP password.")
            )
        for account in self:
            self.env.cr.execute(
                "UPDATE cti_account SET password = %s WHERE id = %s",
                [account.password or None, account.id],
            )
        # The value cached for the current user is right, but values computed for other
        # users in this transaction are now stale.
        self.invalidate_recordset(["password"])

    @api.constrains("username", "auth_username")
    def _check_usernames(self):
        for account in self:
            for value in (account.username, account.auth_username):
                if value and not SIP_USER_RE.match(value):
                    raise ValidationError(_("%(value)s is not a valid SIP user name.", value=value))

    @api.constrains("auto_answer_header")
    def _check_auto_answer_header(self):
        for account in self:
            header = account.auto_answer_header
            if header and not SIP_HEADER_RE.match(header):
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
        """Ask the service to hold (or to end) this account's SIP session.

        The service hosts notice the change through ``NOTIFY cti_session`` at commit.
        """
        self.ensure_one()
        self.sudo().session_wanted = wanted
        self.env.cr.execute("SELECT pg_notify('cti_session', %s)", (str(self.user_id.id),))

    def _cti_agent_config(self):
        """Settings of the engine's agent for this account, read by the service host as
        superuser; ``None`` when the account cannot be used.

        :return: keyword arguments of ``cti_engine.AgentConfig``
        """
        self.ensure_one()
        pbx = self.pbx_id
        if not (pbx.ws_url and pbx.domain and self.username and self.password):
            return None
        country = pbx.country_id or self.company_id.country_id
        return {
            "ws_url": pbx.ws_url,
            "domain": pbx.domain,
            "username": self.username,
            "password": self.password,
            "auth_username": self.auth_username or "",
            "display_name": self.user_id.name or "",
            "default_country": country.code or "",
            "verify_tls": pbx.verify_tls,
            "ca_bundle": pbx.ca_bundle or "",
            "auto_answer_header": self.auto_answer_header or "",
        }

    @api.model
    def _cti_handle_event(self, user_id, payload, agent_state=None):
        """Record one engine event of ``user_id`` and push it to the user's browsers.

        Called by the service host as superuser, in a transaction of its own per event.

        :param payload: the reference event: ``{"name", "message"}`` or ``{"name", "call"}``
        :param agent_state: the agent's state when it emitted the event (``SESSION_STATES``)
        """
        account = self.with_context(active_test=False).search([("user_id", "=", user_id)], limit=1)
        state = agent_state if agent_state in dict(SESSION_STATES) else None
        if account and state and "call" not in payload:
            # Plain SQL: the session state is the service's bookkeeping, not a change of the
            # account's settings (write_date tells the service when to reconnect).
            self.env.cr.execute(
                "UPDATE cti_account SET session_state = %s, session_message = %s WHERE id = %s",
                (state, payload.get("message") or "", account.id),
            )
            account.invalidate_recordset(["session_state", "session_message"])
        user = self.env["res.users"].browse(user_id)
        if "call" in payload:
            self._cti_identify_party(account, user, payload)
            self.env["cti.call"]._cti_record_event(user, payload)
        user._bus_send("cti_connector/event", payload)

    @api.model
    def _cti_identify_party(self, account, user, payload):
        """Add who the other party is (``partnerId``, ``partnerName``, ``leadId``...) to a
        call event: looked up by number, as the user, at the first event of the call, and
        taken from the call log for the events after it. The first RINGING of an inbound
        call whose number several records share also gets ``matches``, every one of them
        as ``{"model", "id", "name"}``, best first."""
        call = payload["call"]
        inbound = call.get("direction") == "INBOUND"
        name_key = "sourceName" if inbound else "destinationName"
        logged = self.env["cti.call"].search(
            [("user_id", "=", user.id), ("sip_call_id", "=", call.get("id"))], limit=1
        )
        if logged:
            info = {
                "partnerId": logged.partner_id.id or False,
                "partnerName": logged.partner_id.display_name or False,
                "leadId": logged.lead_id.id or False,
                "leadName": logged.lead_id.display_name or False,
            }
        else:
            origin = call.get("origin") or {}
            if origin.get("model") == "res.partner" and not call.get("partnerId"):
                call["partnerId"] = origin.get("id")
            if origin.get("model") == "crm.lead" and not call.get("leadId"):
                call["leadId"] = origin.get("id")
            number = call.get("source") if inbound else call.get("destination")
            country = account.pbx_id.country_id or account.company_id.country_id
            info = (
                self.env["res.partner"]
                .with_user(user)
                ._cti_caller_info(number or "", country.code or None)
            )
            matches = info.pop("matches", [])
            if payload.get("name") == "RINGING" and inbound and len(matches) > 1:
                # The screen pop offers the choice; the other events need only the best.
                call["matches"] = matches
        for key, value in info.items():
            if value and not call.get(key):
                call[key] = value
        if call.get("partnerName") and not call.get(name_key):
            call[name_key] = call["partnerName"]
