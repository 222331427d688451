import re

from odoo import _, api, fields, models
from odoo.addons.bus.models.bus import channel_with_db, json_dump
from odoo.exceptions import AccessError, ValidationError
from odoo.tools import SQL

from .cti_call import FINAL_EVENTS

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
# Calls in progress whose party is kept in memory by the service host, at most.
MAX_PARTIES = 20000
# The record a click-to-call started from: (model, id key, name key) of the call object.
ORIGIN_KEYS = (
    ("res.partner", "partnerId", "partnerName"),
    ("crm.lead", "leadId", "leadName"),
)
EVENT_NOTIFICATION = "cti_connector/event"


class PushMemory:
    """What the service host keeps from one push transaction to the next.

    ``parties``: who each call in progress is with, by ``(user id, call id)``.
    ``visibility``: what decides which records each user finds (see
    ``cti.account._cti_visibility``), by user id, valid as long as the registry and its
    caches are: any change of access rights, rules or groups, here or signalled by another
    process, forgets it all.
    """

    __slots__ = ("_sequences", "parties", "visibility")

    def __init__(self):
        self.parties = {}
        self.visibility = {}
        self._sequences = None

    def check(self, registry):
        sequences = (registry.registry_sequence, tuple(sorted(registry.cache_sequences.items())))
        if sequences != self._sequences:
            self.visibility.clear()
            self._sequences = sequences


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
    def _cti_handle_events(self, events, memory=None):
        """Push a batch of engine events to their users' browsers: what the screen pop and
        the softphone wait for, in the service host's transaction for the batch. The call
        log is written apart (``cti.call._cti_record_event``) with the payloads as this
        method leaves them, so a burst of calls is not kept waiting behind its bookkeeping.

        The bus notifications are written here, and announced by the caller once they are
        committed (``NOTIFY imbus`` with the channels returned), on a connection it keeps:
        Odoo's own announcement opens a new connection at every commit.

        :param events: ``[(user id, payload, agent state)]`` in the order the engine emitted
            them; ``payload`` is the reference event, ``{"name", "message"}`` or
            ``{"name", "call"}``, and the agent state one of ``SESSION_STATES`` (or None)
        :param PushMemory memory: what the caller keeps from one batch to the next
        :return: the bus channels written to, for the ``NOTIFY imbus``
        """
        memory = memory or PushMemory()
        memory.check(self.env.registry)
        user_ids = list({user_id for user_id, _payload, _state in events})
        accounts = self.with_context(active_test=False).search([("user_id", "in", user_ids)])
        account_of = {account.user_id.id: account for account in accounts}
        states = dict(SESSION_STATES)
        for user_id, payload, agent_state in events:
            account = account_of.get(user_id)
            if account and agent_state in states and "call" not in payload:
                # Plain SQL: the session state is the service's bookkeeping, not a change of
                # the account's settings (write_date tells the service when to reconnect).
                self.env.cr.execute(
                    "UPDATE cti_account SET session_state = %s, session_message = %s "
                    "WHERE id = %s",
                    (agent_state, payload.get("message") or "", account.id),
                )
        accounts.invalidate_recordset(["session_state", "session_message"])
        # Iterated, so that reading one user's fields reads those of all of them at once.
        user_of = {user.id: user for user in self.env["res.users"].browse(user_ids)}
        calls = [
            (user_of[user_id], payload) for user_id, payload, _state in events if "call" in payload
        ]
        if calls:
            self._cti_identify_parties(account_of, calls, memory)
        return self._cti_write_notifications(
            [(user_of[user_id]._bus_channel(), payload) for user_id, payload, _state in events]
        )

    @api.model
    def _cti_write_notifications(self, notifications):
        """Write bus notifications as ``bus.bus._sendone`` does, all in one statement and
        without announcing them.

        :param notifications: ``[(target record, payload)]`` of ``cti_connector/event``
        :return: the channels, as the ``NOTIFY imbus`` payload lists them
        """
        channels = [channel_with_db(self.env.cr.dbname, target) for target, _p in notifications]
        now = self.env.cr.now()
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO bus_bus (channel, message, create_uid, create_date, write_uid,
                                     write_date)
                SELECT channel, message, %(uid)s, %(now)s, %(uid)s, %(now)s
                  FROM unnest(%(channels)s::varchar[], %(messages)s::varchar[])
                       AS t(channel, message)
                """,
                uid=self.env.uid,
                now=now,
                channels=[json_dump(channel) for channel in channels],
                messages=[
                    json_dump({"type": EVENT_NOTIFICATION, "payload": payload})
                    for _target, payload in notifications
                ],
            )
        )
        return list(dict.fromkeys(channels))

    @api.model
    def _cti_identify_parties(self, account_of, calls, memory):
        """Add who the other party is (``partnerId``, ``partnerName``, ``leadId``...) to
        call events: taken from ``parties`` or from the call log for a call seen before,
        looked up by number at the first event of a call. The first RINGING of an inbound
        call whose number several records share also gets ``matches``, every one of them
        as ``{"model", "id", "name"}``, best first.

        Numbers are looked up as the users (nobody learns a name they may not read), all
        at once for the users who see the same records: the same access rights and record
        rules (as evaluated for them), language, company and PBX country.

        :param dict account_of: ``{user id: cti.account}``
        :param calls: ``[(res.users, payload)]`` of call events, updated in place
        :param PushMemory memory: ``memory.parties``, ``{(user id, call id): info}``, is
            updated: a call's info is added at its first event and dropped at its final one
        """
        parties = memory.parties
        unknown = [
            (user, payload)
            for user, payload in calls
            if (user.id, payload["call"].get("id")) not in parties
        ]
        if unknown:
            logged = self.env["cti.call"].search(
                [
                    ("user_id", "in", list({user.id for user, _payload in unknown})),
                    ("sip_call_id", "in", [payload["call"].get("id") for _u, payload in unknown]),
                ]
            )
            for call in logged:
                parties[(call.user_id.id, call.sip_call_id)] = {
                    "partnerId": call.partner_id.id or False,
                    "partnerName": call.partner_id.display_name or False,
                    "leadId": call.lead_id.id or False,
                    "leadName": call.lead_id.display_name or False,
                }
        groups = {}  # who sees the same records -> [(user, payload)]
        for user, payload in calls:
            call = payload["call"]
            if (user.id, call.get("id")) in parties:
                continue
            account = account_of.get(user.id, self)
            self._cti_apply_origin(user, call)
            country = account.pbx_id.country_id or account.company_id.country_id
            visibility = memory.visibility.get(user.id)
            if visibility is None:
                visibility = memory.visibility[user.id] = self._cti_visibility(user)
            key = (country.code or None, *visibility)
            groups.setdefault(key, []).append((user, payload))
        for (country_code, *_visibility), members in groups.items():
            numbers = [self._cti_party_number(payload["call"]) for _user, payload in members]
            found = (
                self.env["res.partner"]
                .with_user(members[0][0])
                ._cti_callers_info(numbers, country_code)
            )
            for (user, payload), number in zip(members, numbers, strict=True):
                call = payload["call"]
                info = dict(found[number])
                matches = info.pop("matches")
                if payload.get("name") == "RINGING" and self._cti_is_inbound(call):
                    if len(matches) > 1:
                        # The screen pop offers the choice; the other events need the best.
                        call["matches"] = matches
                for key, value in info.items():
                    if value and not call.get(key):
                        call[key] = value
                parties[(user.id, call.get("id"))] = {key: call.get(key) or False for key in info}
        for user, payload in calls:
            call = payload["call"]
            key = (user.id, call.get("id"))
            for field, value in parties.get(key, {}).items():
                if value and not call.get(field):
                    call[field] = value
            name_key = "sourceName" if self._cti_is_inbound(call) else "destinationName"
            if call.get("partnerName") and not call.get(name_key):
                call[name_key] = call["partnerName"]
            if payload.get("name") in FINAL_EVENTS:
                parties.pop(key, None)
        while len(parties) > MAX_PARTIES:
            # Calls whose end was never seen (a lost session): forget the oldest.
            del parties[next(iter(parties))]

    @api.model
    def _cti_apply_origin(self, user, call):
        """The record a click-to-call was started from is who the call is with, when
        ``user`` may read it."""
        origin = call.get("origin") or {}
        for model, id_key, name_key in ORIGIN_KEYS:
            if origin.get("model") != model or call.get(id_key):
                continue
            record = self.env["cti.call"]._cti_readable_record(model, origin.get("id"), user)
            if record:
                call[id_key] = record.id
                call[name_key] = record.with_user(user).display_name

    @api.model
    def _cti_visibility(self, user):
        """What decides which partners and leads ``user`` finds, and how they are named:
        language, company, and for each model the read access and the record rules as
        evaluated for the user (both cached by Odoo per user)."""
        env = self.with_user(user).env
        seen = []
        for model in ("res.partner", "crm.lead"):
            if env["ir.model.access"].check(model, "read", raise_exception=False):
                seen.append(repr(env["ir.rule"]._compute_domain(model, "read")))
            else:
                seen.append(None)
        return (user.lang, user.company_id.id, *seen)

    @staticmethod
    def _cti_is_inbound(call):
        return call.get("direction") == "INBOUND"

    @classmethod
    def _cti_party_number(cls, call):
        return (call.get("source") if cls._cti_is_inbound(call) else call.get("destination")) or ""
