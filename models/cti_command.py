import logging
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

_logger = logging.getLogger(__name__)

# A command not claimed within this delay is dropped rather than carried out late: a
# click-to-call that rings the user's phone a minute after the click is worse than none.
COMMAND_TTL = timedelta(seconds=30)
# Finished commands are kept this long for diagnosis, then removed by the autovacuum.
COMMAND_RETENTION = timedelta(days=1)


class CtiCommand(models.Model):
    """A request from a web worker to the CTI service (log in, place a call, hang up...).

    Web workers only insert rows; the service host that runs the user's SIP agent claims
    them (``FOR UPDATE SKIP LOCKED``), carries them out and reports through the bus. A
    command still pending at its ``expire_date`` is never carried out.

    Nobody creates, changes or deletes a command through the ORM but the server itself
    (managers may purge them): a route validates the request, then creates the row as
    superuser with :meth:`_cti_enqueue`. Whatever a row holds, :meth:`create` sets its
    state and expiry, and the service validates its payload again before using it.
    """

    _name = "cti.command"
    _description = "CTI Command"
    _order = "id"
    _rec_name = "name"

    user_id = fields.Many2one(
        "res.users",
        string="User",
        required=True,
        index=True,
        ondelete="cascade",
        default=lambda self: self.env.user,
    )
    account_id = fields.Many2one(
        "cti.account",
        string="Account",
        required=True,
        ondelete="cascade",
    )
    name = fields.Selection(
        [
            ("call", "Call"),
            ("answer", "Answer"),
            ("terminate", "Hang Up"),
            ("transfer", "Transfer"),
            ("hold", "Hold"),
            ("resume", "Resume"),
            ("complete", "Complete Transfer"),
        ],
        string="Command",
        required=True,
    )
    payload = fields.Json(help="Arguments of the command, e.g. the destination and call id.")
    state = fields.Selection(
        [
            ("pending", "Pending"),
            ("done", "Done"),
            ("expired", "Expired"),
            ("failed", "Failed"),
        ],
        required=True,
        default="pending",
        index=True,
    )
    expire_date = fields.Datetime(
        string="Expires",
        required=True,
        default=lambda self: fields.Datetime.now() + COMMAND_TTL,
        help="A command not claimed by then is expired instead of carried out.",
    )
    result = fields.Text(help="Outcome reported by the service, or why the command failed.")

    @api.model_create_multi
    def create(self, vals_list):
        now = fields.Datetime.now()
        latest = now + COMMAND_TTL
        for vals in vals_list:
            # The queue's bookkeeping is the server's: a row starts pending, without a
            # result, and never waits longer than COMMAND_TTL.
            vals["state"] = "pending"
            vals.pop("result", None)
            expire = fields.Datetime.to_datetime(vals.get("expire_date")) or latest
            vals["expire_date"] = min(expire, latest)
            if not vals.get("account_id"):
                user_id = vals.get("user_id") or self.env.uid
                vals["account_id"] = (
                    self.env["cti.account"].sudo().search([("user_id", "=", user_id)], limit=1).id
                )
        return super().create(vals_list)

    @api.model
    def _cti_enqueue(self, account, name, payload):
        """Queue a command for ``account``'s agent, validated by the caller, and wake the
        service hosts at commit.

        :param account: ``cti.account`` of the current user
        :param str name: one of the ``name`` selection values
        :param dict payload: the command's arguments, as the service validates them
        :return: the new ``cti.command``
        """
        command = self.sudo().create(
            {
                "user_id": account.user_id.id,
                "account_id": account.id,
                "name": name,
                "payload": payload,
            }
        )
        self.env.cr.execute("SELECT pg_notify('cti_command', %s)", (str(command.id),))
        return command.sudo(False)

    @api.constrains("user_id", "account_id")
    def _check_account_owner(self):
        for command in self:
            if command.account_id.sudo().user_id != command.user_id:
                raise ValidationError(
                    _("A CTI command can only be sent through the user's own account.")
                )

    @api.autovacuum
    def _gc_commands(self):
        """Expire the pending commands past their expiry date and delete the finished ones
        older than :data:`COMMAND_RETENTION`."""
        now = fields.Datetime.now()
        stale = self.search([("state", "=", "pending"), ("expire_date", "<", now)])
        stale.write({"state": "expired", "result": "Expired before the CTI service claimed it."})
        old = self.search(
            [
                ("state", "in", ("done", "expired", "failed")),
                ("create_date", "<", now - COMMAND_RETENTION),
            ]
        )
        old.unlink()
        if stale or old:
            _logger.info("CTI commands: %s expired, %s old ones deleted", len(stale), len(old))
