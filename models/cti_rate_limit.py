from odoo import api, fields, models
from odoo.tools import SQL

# What a user may ask of the CTI, per kind of request: (burst, seconds to earn it back).
# A stuck key or a script must not start a dialling storm or make the service reconnect
# in a loop; a person never notices these.
RATE_LIMITS = {
    "call": (5, 30.0),
    "command": (30, 30.0),
    "session": (10, 60.0),
}


class CtiRateLimit(models.Model):
    """Token buckets of the CTI routes, one row per account and kind of request.

    :meth:`_cti_take` is the one place a route asks whether a user may go on. It is a
    single ``INSERT … ON CONFLICT DO UPDATE … WHERE … RETURNING``: PostgreSQL locks the
    row, so two requests of the same user at the same moment cannot both spend the last
    token (the second waits for the first; under Odoo's repeatable read it is then
    refused with a serialization failure, and Odoo replays it against the new count).
    """

    _name = "cti.rate.limit"
    _description = "CTI Rate Limit"

    account_id = fields.Many2one("cti.account", required=True, ondelete="cascade")
    kind = fields.Selection([(kind, kind.capitalize()) for kind in RATE_LIMITS], required=True)
    tokens = fields.Float(help="Requests left, earned back with time up to the burst.")
    stamp = fields.Datetime(help="When the tokens were last counted.")

    _sql_constraints = [
        ("account_kind_uniq", "unique(account_id, kind)", "One bucket per account and kind."),
    ]

    @api.model
    def _cti_take(self, account, kind):
        """Spend one request of ``kind`` for ``account``.

        :return: True if the request may go on, False if the user must wait
        """
        burst, period = RATE_LIMITS[kind]
        now = SQL("(clock_timestamp() AT TIME ZONE 'UTC')")
        earned = SQL(
            "LEAST(%s, r.tokens + EXTRACT(EPOCH FROM %s - r.stamp) * %s)",
            burst,
            now,
            burst / period,
        )
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO cti_rate_limit AS r (account_id, kind, tokens, stamp,
                                                 create_uid, create_date, write_uid, write_date)
                VALUES (%(account)s, %(kind)s, %(burst)s - 1, %(now)s,
                        %(uid)s, %(now)s, %(uid)s, %(now)s)
                ON CONFLICT (account_id, kind) DO UPDATE
                   SET tokens = %(earned)s - 1, stamp = %(now)s
                 WHERE %(earned)s >= 1
                RETURNING r.id
                """,
                account=account.id,
                kind=kind,
                burst=burst,
                now=now,
                uid=self.env.uid,
                earned=earned,
            )
        )
        return bool(self.env.cr.fetchone())
