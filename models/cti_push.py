"""The bus adapter: the one place that knows how engine events become bus rows.

The service host's push lane hands each batch of engine events to
:meth:`CtiPush._cti_handle_events` in one transaction: the session state of each user,
who each call is with (looked up as the user, remembered for the call's later events) and
the bus notifications to the users' browsers, written in one statement
(:meth:`CtiPush._cti_write_notifications`) and announced by the lane after the commit.
Other modules add what they derive from the same events by extending
:meth:`CtiPush._cti_derive` (colleagues' lines: ``cti_push_line_state.py``).
"""

from odoo import api, models
from odoo.addons.bus.models.bus import channel_with_db, json_dump
from odoo.tools import SQL

from ..service.push_memory import WATCH_KEY, PushMemory
from .cti_account import SESSION_STATES
from .cti_call import FINAL_EVENTS

# Calls in progress whose party is kept in memory by the service host, at most.
MAX_PARTIES = 20000
# The record a click-to-call started from: (model, id key, name key) of the call object.
ORIGIN_KEYS = (
    ("res.partner", "partnerId", "partnerName"),
    ("crm.lead", "leadId", "leadName"),
)
EVENT_NOTIFICATION = "cti_connector/event"


class CtiPush(models.AbstractModel):
    """Engine events to bus rows, for the service host's push lane (never a user)."""

    _name = "cti.push"
    _description = "CTI Push"

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
            them; ``payload`` is the reference event, ``{"name", "code", "params"}`` (the
            ``message`` is added here) or
            ``{"name", "call"}``, and the agent state one of ``SESSION_STATES`` (or None)
        :param PushMemory memory: what the caller keeps from one batch to the next
        :return: the bus channels written to, for the ``NOTIFY imbus``
        """
        memory = memory or PushMemory()
        memory.check(self.env.registry)
        user_ids = list({user_id for user_id, _payload, _state in events})
        accounts = (
            self.env["cti.account"]
            .with_context(active_test=False)
            .search([("user_id", "in", user_ids)])
        )
        account_of = {account.user_id.id: account for account in accounts}
        # Iterated, so that reading one user's fields reads those of all of them at once.
        user_of = {user.id: user for user in self.env["res.users"].browse(user_ids)}
        self._cti_word_notices(events, user_of)
        states = dict(SESSION_STATES)
        for user_id, payload, agent_state in events:
            account = account_of.get(user_id)
            if payload.get(WATCH_KEY):
                continue  # a watcher's: the user's session is not what it reports
            if account and agent_state in states and "call" not in payload:
                # Plain SQL: the session state is the service's bookkeeping, not a change of
                # the account's settings (write_date tells the service when to reconnect).
                self.env.cr.execute(
                    "UPDATE cti_account SET session_state = %s, session_message = %s "
                    "WHERE id = %s",
                    (agent_state, payload.get("message") or "", account.id),
                )
        accounts.invalidate_recordset(["session_state", "session_message"])
        calls = [
            (user_of[user_id], payload) for user_id, payload, _state in events if "call" in payload
        ]
        if calls:
            self._cti_identify_parties(account_of, calls, memory)
        channels = self._cti_write_notifications(
            [
                (user_of[user_id]._bus_channel(), payload)
                for user_id, payload, _state in events
                if not payload.get(WATCH_KEY)
            ]
        )
        derived = self._cti_derive(events, account_of)
        return channels + [channel for channel in derived if channel not in channels]

    @api.model
    def _cti_word_notices(self, events, user_of):
        """Give each activity event its reference ``message``: its notice code worded in
        its user's language (``cti.notice``)."""
        notice_in = {}
        for user_id, payload, _state in events:
            if "code" not in payload or "message" in payload or payload.get(WATCH_KEY):
                continue  # no notice, worded already, or a watcher's (no browser sees it)
            lang = user_of[user_id].lang or "en_US"
            if lang not in notice_in:
                notice_in[lang] = self.env["cti.notice"].with_context(lang=lang)
            payload["message"] = notice_in[lang]._cti_message(
                payload["code"], payload.get("params")
            )

    @api.model
    def _cti_derive(self, events, account_of):
        """What other modules derive from the same events, in the same transaction (the
        colleagues' lines: ``cti_push_line_state.py``); extended, never replaced.

        :param dict account_of: ``{user id: cti.account}`` of the users of ``events``
        :return: the bus channels written to
        """
        return []

    @api.model
    def _cti_write_notifications(self, notifications, notification_type=EVENT_NOTIFICATION):
        """Write bus notifications as ``bus.bus._sendone`` does, all in one statement and
        without announcing them.

        :param notifications: ``[(target, payload)]``, a target as ``bus.bus._sendone``
            takes it (a record, or a record and a sub-channel name)
        :param str notification_type: the type of every one of them
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
                    json_dump({"type": notification_type, "payload": payload})
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
                # The log links the call to whatever the service found (e.g. a lead's
                # contact): pushed only what the call's user may read, named as they see it.
                partner = call._cti_readable_record("res.partner", call.partner_id.id)
                lead = call._cti_readable_record("crm.lead", call.lead_id.id)
                as_user = call.user_id
                parties[(call.user_id.id, call.sip_call_id)] = {
                    "partnerId": partner.id or False,
                    "partnerName": partner.with_user(as_user).display_name or False,
                    "leadId": lead.id or False,
                    "leadName": lead.with_user(as_user).display_name or False,
                }
        groups = {}  # who sees the same records -> [(user, payload)]
        for user, payload in calls:
            call = payload["call"]
            if (user.id, call.get("id")) in parties:
                continue
            account = account_of.get(user.id, self.env["cti.account"])
            self._cti_apply_origin(user, call)
            country = account._cti_country() if account else account.env["res.country"]
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
