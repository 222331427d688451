import logging
from urllib.parse import urlsplit

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError

from ..service import secret

_logger = logging.getLogger(__name__)


class CtiPbx(models.Model):
    """A SIP PBX reachable over WebSocket (RFC 7118) that CTI accounts register on.

    ``driver`` says what else the service may use to control calls on it (see
    ``cti_engine.drivers``): nothing ("SIP only"), or Asterisk's Manager Interface, one
    connection per PBX per service process. Its secret is kept like the SIP passwords of
    ``cti.account``: Fernet-encrypted before any SQL statement carries it, in a column no
    stored field maps, write-only for CTI managers, read in clear by the service only.
    """

    _name = "cti.pbx"
    _description = "CTI PBX"
    _order = "sequence, name, id"
    _check_company_auto = True

    name = fields.Char(required=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one(
        "res.company", string="Company", default=lambda self: self.env.company, index=True
    )
    ws_url = fields.Char(
        string="WebSocket URL",
        required=True,
        help="SIP over WebSocket endpoint of the PBX, e.g. wss://pbx.example.com:8089/ws",
    )
    domain = fields.Char(
        string="SIP Domain",
        required=True,
        help="Domain of the users' SIP addresses (sip:1001@domain) and of REGISTER requests.",
    )
    country_id = fields.Many2one(
        "res.country",
        string="Default Country",
        default=lambda self: self.env.company.country_id,
        help="Country used to read national numbers (without a + or 00 prefix) dialled "
        "or received through this PBX.",
    )
    verify_tls = fields.Boolean(
        string="Verify TLS Certificate",
        default=True,
        help="Check the certificate of a wss:// server. Turn off only for a test PBX with a "
        "self-signed certificate: without it, anyone on the path can read SIP credentials.",
    )
    ca_bundle = fields.Char(
        string="CA Bundle",
        help="Path, on the Odoo server, of a PEM file with the certificate authorities to "
        "trust for wss:// instead of the system ones.",
    )
    register_expires = fields.Integer(
        string="Subscription Expiry (s)",
        default=600,
        help="How long each user's subscription to their call events lasts before it is "
        "renewed (Expires of the SUBSCRIBE), in seconds. The PBX may shorten it.",
    )
    driver = fields.Selection(
        [("sip", "SIP only"), ("asterisk", "Asterisk: SIP + Manager Interface")],
        string="Call Control",
        default="sip",
        required=True,
        help="SIP only: calls are watched over SIP; transfer, hold and hang-up work on calls "
        "placed from Odoo, and on others only where the phone accepts a take-over. Asterisk: "
        "the service also connects to the Asterisk Manager Interface (one connection for "
        "all users) to transfer, hold, hang up and decline any call of the users.",
    )
    ami_host = fields.Char(
        string="Manager Interface Host",
        help="Host of the Asterisk Manager Interface (manager.conf); the WebSocket URL's "
        "host when empty.",
    )
    ami_port = fields.Integer(string="Manager Interface Port", default=5038)
    ami_username = fields.Char(string="Manager Interface User")
    ami_secret = fields.Char(
        string="Manager Interface Secret",
        compute="_compute_ami_secret",
        inverse="_inverse_ami_secret",
        copy=False,
        groups="cti_connector.group_cti_manager",
        help="Write-only: set it, nobody reads it back.",
    )
    ami_context = fields.Char(
        string="Transfer Context",
        default="from-internal",
        help="Dialplan context a transferred caller is sent to, the one the users' phones "
        "dial from (from-internal on FreePBX).",
    )
    share_line_states = fields.Boolean(
        string="Share Line States",
        default=True,
        help="CTI users of the same company see whether the users of this PBX are free, "
        "ringing or on a call (the softphone's Team tab, Cti.Connector's subscribe).",
    )
    account_ids = fields.One2many("cti.account", "pbx_id", string="Accounts")
    account_count = fields.Integer(compute="_compute_account_count", string="Account Count")

    def init(self):
        self.env.cr.execute("ALTER TABLE cti_pbx ADD COLUMN IF NOT EXISTS ami_secret varchar")

    def _compute_ami_secret(self):
        self.ami_secret = False

    def _inverse_ami_secret(self):
        for pbx in self:
            try:
                token = secret.encrypt(pbx.ami_secret) if pbx.ami_secret else None
            except secret.SecretKeyError as exc:
                raise UserError(
                    _("The Manager Interface secret cannot be stored: %(reason)s.", reason=exc)
                ) from None
            self.env.cr.execute("UPDATE cti_pbx SET ami_secret = %s WHERE id = %s", [token, pbx.id])
        self.invalidate_recordset(["ami_secret"])

    def _cti_driver_config(self):
        """The PBX driver the service builds for this PBX, read by the service host as
        superuser.

        :return: ``(kind, settings)``: keyword arguments of ``cti_engine.make_driver``
        """
        self.ensure_one()
        if self.driver != "asterisk":
            return "sip", {}
        self.env.cr.execute("SELECT ami_secret FROM cti_pbx WHERE id = %s", [self.id])
        stored = self.env.cr.fetchone()[0] or ""
        try:
            clear = secret.decrypt(stored) if stored else ""
        except secret.SecretKeyError as exc:
            # The driver then logs in with no secret and its users are told it was refused.
            _logger.warning(
                "CTI: the Manager Interface secret of PBX %s is unusable: %s", self.id, exc
            )
            clear = ""
        return "asterisk", {
            "host": self.ami_host or urlsplit(self.ws_url or "").hostname or "",
            "port": self.ami_port or 5038,
            "username": self.ami_username or "",
            "secret": clear,
            "context": self.ami_context or "from-internal",
        }

    @api.depends("account_ids")
    def _compute_account_count(self):
        counts = dict(
            self.env["cti.account"]._read_group(
                [("pbx_id", "in", self.ids)], ["pbx_id"], ["__count"]
            )
        )
        for pbx in self:
            pbx.account_count = counts.get(pbx._origin, 0)

    @api.constrains("ws_url")
    def _check_ws_url(self):
        for pbx in self:
            try:
                url = urlsplit(pbx.ws_url or "")
                url.port  # noqa: B018 - raises ValueError on a malformed port
            except ValueError as exc:
                raise ValidationError(
                    _(
                        "The WebSocket URL %(url)s is malformed: %(error)s",
                        url=pbx.ws_url,
                        error=exc,
                    )
                ) from exc
            if url.scheme not in ("ws", "wss") or not url.hostname:
                raise ValidationError(
                    _(
                        "The WebSocket URL must look like ws://host[:port][/path] or "
                        "wss://host[:port][/path], not %(url)s.",
                        url=pbx.ws_url,
                    )
                )

    @api.constrains("domain")
    def _check_domain(self):
        for pbx in self:
            if not pbx.domain or any(c in pbx.domain for c in " \t\r\n@;<>\"'/"):
                raise ValidationError(_("%(domain)s is not a valid SIP domain.", domain=pbx.domain))

    @api.constrains("driver", "ami_port", "ami_username", "ami_host", "ami_context")
    def _check_manager_interface(self):
        for pbx in self.filtered(lambda p: p.driver == "asterisk"):
            if not 0 < pbx.ami_port < 65536:
                raise ValidationError(_("The Manager Interface port must be 1 to 65535."))
            for value in (pbx.ami_username, pbx.ami_host, pbx.ami_context):
                # AMI is line-based: a line break or control character would end an action.
                if value and any(ord(c) < 32 or c in ":;" for c in value):
                    raise ValidationError(
                        _("%(value)r is not a valid Manager Interface setting.", value=value)
                    )
            if not pbx.ami_username:
                raise ValidationError(_("Give the Manager Interface user of the PBX."))

    @api.constrains("register_expires")
    def _check_register_expires(self):
        for pbx in self:
            if pbx.register_expires < 60:
                raise ValidationError(_("The subscription expiry must be at least 60 seconds."))

    def action_view_accounts(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("cti_connector.action_cti_account")
        action["domain"] = [("pbx_id", "=", self.id)]
        action["context"] = {"default_pbx_id": self.id}
        return action
