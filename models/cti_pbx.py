from urllib.parse import urlsplit

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError


class CtiPbx(models.Model):
    """A SIP PBX reachable over WebSocket (RFC 7118) that CTI accounts register on."""

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
    outbound_prefix = fields.Char(
        help="Digits the PBX needs in front of external numbers (e.g. 0 or 9). Leave empty "
        "when the PBX routes E.164 numbers as they are.",
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
        string="Registration Expiry (s)",
        default=600,
        help="Expires value asked for in REGISTER and SUBSCRIBE requests, in seconds.",
    )
    account_ids = fields.One2many("cti.account", "pbx_id", string="Accounts")
    account_count = fields.Integer(compute="_compute_account_count", string="Account Count")

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

    @api.constrains("outbound_prefix")
    def _check_outbound_prefix(self):
        for pbx in self:
            if pbx.outbound_prefix and not all(c in "0123456789*#" for c in pbx.outbound_prefix):
                raise ValidationError(_("The outbound prefix may only contain digits, * and #."))

    @api.constrains("register_expires")
    def _check_register_expires(self):
        for pbx in self:
            if pbx.register_expires < 60:
                raise ValidationError(_("The registration expiry must be at least 60 seconds."))

    def action_view_accounts(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("cti_connector.action_cti_account")
        action["domain"] = [("pbx_id", "=", self.id)]
        action["context"] = {"default_pbx_id": self.id}
        return action
