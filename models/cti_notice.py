"""The words of the CTI: what the engine's notice codes, call causes and actions say to the
user, each once, translatable.

The engine speaks in codes (``cti_engine/notices.py``); :meth:`CtiNotice._cti_message`
words one in a language, and the service host adds it to every activity event it pushes
(the reference's ``message``). The softphone words call causes with
:meth:`CtiNotice._cti_cause_labels`, served in the session info.
"""

import logging

from odoo import api, models
from odoo.tools.translate import LazyTranslate

from ..cti_engine import notices as N
from ..cti_engine.events import LOGGED_OUT, PBX_CONNECTION_LOST
from ..service.sweep import UNSEEN_CAUSE

_lt = LazyTranslate(__name__)
_logger = logging.getLogger(__name__)

NOTICE_TEXT = {
    N.ALREADY_LOGGED_IN: _lt("Already logged in."),
    N.NOT_LOGGED_IN: _lt("Not logged in."),
    N.LOGGED_IN: _lt("Logged in as %(user)s."),
    N.LOGGED_OUT: _lt("Logged out."),
    N.CONNECTED: _lt("Connected to the PBX."),
    N.ACCOUNT_UNUSABLE: _lt("The CTI account cannot be used: the %(setting)s is not valid."),
    N.CREDENTIALS_REFUSED: _lt(
        "The PBX refused the credentials of %(user)s (%(status)s): check the SIP username and "
        "password."
    ),
    N.NO_CALL_STATE: _lt(
        "The PBX has no call state for extension %(user)s (404): on Asterisk, give the "
        "extension a hint (exten => %(user)s,hint,PJSIP/%(user)s) in the context of the "
        "endpoint's subscribe_context."
    ),
    N.EVENTS_NOT_SUPPORTED: _lt(
        "The PBX does not report calls (489 Bad Event): enable dialog event subscriptions."
    ),
    N.WATCHING_FORBIDDEN: _lt(
        "The PBX does not let %(user)s watch its calls (603): on Asterisk, set "
        "allow_subscribe=yes on the endpoint."
    ),
    N.WATCHING_REFUSED: _lt("The PBX refused to report calls (%(status)s); retrying."),
    N.CONNECTION_LOST: _lt("Lost the connection to the PBX (%(reason)s); reconnecting."),
    N.PBX_UNREACHABLE: _lt("Cannot reach the PBX at %(url)s (%(reason)s); retrying."),
    N.MANAGER_BACK: _lt("Call control through the PBX's Manager Interface works again."),
    N.MANAGER_REFUSED: _lt(
        "The PBX's Manager Interface at %(address)s refused the login of %(user)s "
        "(%(reason)s): check the Manager Interface user and secret of the PBX. Calls are "
        "still shown; transfer, hold and hang-up of calls not placed from Odoo are "
        "unavailable meanwhile."
    ),
    N.MANAGER_DOWN: _lt(
        "No connection to the PBX's Manager Interface at %(address)s (%(reason)s); retrying. "
        "Calls are still shown; transfer, hold and hang-up of calls not placed from Odoo are "
        "unavailable meanwhile."
    ),
    N.MANAGER_NOT_CONNECTED: _lt(
        "The PBX's Manager Interface is not connected: try again in a moment."
    ),
    N.NOT_CONNECTED: _lt("Not connected to the PBX: the call was not placed."),
    N.ANSWERED_ALREADY: _lt("This call was answered on your phone already."),
    N.CANNOT_ANSWER: _lt("Your phone cannot be answered from Odoo: pick it up."),
    N.CALL_ENDED: _lt("The call has ended: nothing to %(action)s."),
    N.NO_SUCH_CALL: _lt("No call %(call)s to %(action)s."),
    N.RINGING_CANNOT_END: _lt(
        "A call still ringing cannot be ended from Odoo: decline it on your phone."
    ),
    N.CANNOT_END: _lt("This call cannot be ended from Odoo: hang up on your phone."),
    N.CANNOT_END_REFUSED: _lt(
        "This call cannot be ended from Odoo: hang up on your phone (it refused to hand the "
        "call over: %(status)s)."
    ),
    N.CANNOT_END_BOTH_REFUSED: _lt(
        "This call cannot be ended from Odoo: hang up on your phone (it refused to hand the "
        "call over: %(status)s; the other party's side refused too: %(other_status)s)."
    ),
    N.CANNOT_END_OTHER_REFUSED: _lt(
        "This call cannot be ended from Odoo: hang up on your phone (the other party's side "
        "refused to hand it over: %(status)s)."
    ),
    N.CANNOT_TRANSFER_OTHER_REFUSED: _lt(
        "This call cannot be transferred from Odoo: the other party's side refused to hand "
        "it over (%(status)s); the call goes on."
    ),
    N.NOT_AVAILABLE: _lt("%(action)s is not available for this call on this PBX and phone."),
    N.PBX_CANNOT: _lt("This PBX cannot do that from Odoo."),
    N.NOT_RINGING: _lt("This call is not ringing on your phone any more."),
    N.NOT_FOUND: _lt("This call cannot be found on the PBX any more."),
    N.ALREADY_ON_HOLD: _lt("The call is already on hold."),
    N.NOT_ON_HOLD: _lt("The call is not on hold."),
    N.CANNOT_NOW: _lt("The call cannot be %(action)s now."),
    N.PBX_ACTION_FAILED: _lt("The PBX could not %(action)s the call %(destination)s(%(reason)s)."),
    N.CONTROL_FAILED: _lt("Could not %(action)s the call (%(status)s); it goes on as it was."),
    N.TRANSFER_FAILED: _lt("Transfer to %(destination)s failed (%(cause)s); the call goes on."),
    N.PHONE_KEY_REFUSED: _lt(
        "Your phone did not %(action)s the call from Odoo (%(status)s): use the phone itself. "
        "Odoo no longer offers it until you log in again."
    ),
    N.COMMAND_EXPIRED: _lt("The request came too late to be carried out; try again."),
    N.COMMAND_REFUSED: _lt("The request was refused: %(reason)s"),
    N.NUMBER_NOT_TEXT: _lt("The number must be text."),
    N.NUMBER_EMPTY: _lt("The number is empty."),
    N.NUMBER_CONTROL_CHARACTERS: _lt('"%(number)s" contains control characters.'),
    N.NUMBER_NOT_A_NUMBER: _lt('"%(number)s" is not a phone number or an extension.'),
    N.NUMBER_NO_DIGITS: _lt('"%(number)s" has no digits.'),
    N.NUMBER_INVALID: _lt('"%(number)s" is not a valid phone number.'),
}
# The actions a notice names, as a verb in its sentence (NOT_AVAILABLE starts with it).
ACTION_TEXT = {
    "answer": _lt("answer"),
    "hang up": _lt("hang up"),
    "decline": _lt("decline"),
    "hold": _lt("put on hold"),
    "resume": _lt("resume"),
    "transfer": _lt("transfer"),
    "ask-first transfer": _lt("ask-first transfer"),
    "complete": _lt("complete"),
    "cancel": _lt("cancel"),
    "call first": _lt("call first"),
}
# CANNOT_NOW says what the call cannot be now.
STATE_TEXT = {
    "hold": _lt("put on hold"),
    "resume": _lt("resumed"),
    "transfer": _lt("transferred"),
}
SETTING_TEXT = {
    "username": _lt("extension"),
    "auth_username": _lt("authentication user name"),
    "domain": _lt("SIP domain"),
    "ws_url": _lt("WebSocket URL"),
}
# Why a connection to the PBX ended (``reason``), with the system's words in ``detail``.
REASON_TEXT = {
    N.REASON_CLOSED_BY_PBX: _lt("closed by the PBX"),
    N.REASON_CANNOT_CONNECT: _lt("cannot connect: %(detail)s"),
    N.REASON_CONNECTION_BROKEN: _lt("connection broken: %(detail)s"),
    N.REASON_NO_KEEPALIVE_ANSWER: _lt("no answer to keepalive pings"),
    N.REASON_NOT_SIP: _lt("the server did not accept the WebSocket subprotocol 'sip'"),
    N.REASON_REDIRECT: _lt(
        "the PBX answered with a redirect, which is never followed: set its final URL"
    ),
    N.REASON_TLS_UNVERIFIED: _lt(
        "its TLS certificate could not be verified: %(detail)s; if the PBX uses a private CA, "
        "set its CA bundle"
    ),
    N.REASON_TOO_MUCH: _lt("the PBX sent more than is accepted: %(detail)s"),
}
# One wording per call cause the engine gives (a cause not listed is shown as it comes).
CAUSE_TEXT = {
    "hangup": _lt("Hung up"),
    "local hangup": _lt("You hung up"),
    "terminated": _lt("You hung up"),
    "remote hangup": _lt("They hung up"),
    "transferred": _lt("Transferred"),
    "busy": _lt("Busy"),
    "no answer": _lt("No answer"),
    "missed": _lt("Missed"),
    "rejected": _lt("Rejected"),
    "answered elsewhere": _lt("Answered elsewhere"),
    "not found": _lt("Number not found"),
    "cancelled": _lt("Cancelled"),
    "phone busy": _lt("Your phone is busy"),
    "phone declined": _lt("Declined on your phone"),
    "phone not registered": _lt("Your phone is not registered"),
    "phone not answered": _lt("Not answered on your phone"),
    "phone unreachable": _lt("Your phone could not be reached"),
    PBX_CONNECTION_LOST: _lt("Connection to the PBX lost"),
    LOGGED_OUT: _lt("Logged out"),
    "ended while the connection was down": _lt("Ended while the connection was down"),
    "no longer reported by the PBX": _lt("No longer reported by the PBX"),
    "the caller hung up": _lt("The caller hung up"),
    UNSEEN_CAUSE: _lt("Ended while the CTI service was not running"),
}


class _Lenient(dict):
    """Parameters for a sentence: one that is missing reads "?" instead of failing."""

    def __missing__(self, key):
        return "?"


class CtiNotice(models.AbstractModel):
    """The one door from a notice code to a sentence in the user's language."""

    _name = "cti.notice"
    _description = "CTI Notice Wording"

    @api.model
    def _cti_message(self, code, params=None):
        """The sentence of notice ``code`` with ``params``, in the environment's language;
        an unknown code is shown as it is."""
        template = NOTICE_TEXT.get(code)
        if template is None:
            return str(code or "")
        words = dict(params or {})
        if code == N.CANNOT_NOW:
            words["action"] = self._cti_word(STATE_TEXT, words.get("action"))
        elif "action" in words:
            words["action"] = self._cti_word(ACTION_TEXT, words["action"])
            if code == N.NOT_AVAILABLE:
                words["action"] = words["action"][:1].upper() + words["action"][1:]
        if "setting" in words:
            words["setting"] = self._cti_word(SETTING_TEXT, words["setting"])
        if "cause" in words:
            words["cause"] = self._cti_cause(words["cause"])
        reason = REASON_TEXT.get(words.get("reason"))
        if reason:
            words["reason"] = self._cti_fill(reason, words, code)
        if code == N.PBX_ACTION_FAILED:
            destination = words.get("destination")
            words["destination"] = f"{self.env._('to %s', destination)} " if destination else ""
        return self._cti_fill(template, words, code)

    def _cti_fill(self, wording, words, code):
        """``wording`` in the environment's language, with ``words`` filled in; in English
        when its translation does not fit them."""
        try:
            return self.env._(wording) % _Lenient(words)
        except (TypeError, ValueError):
            _logger.warning("CTI: the wording of %s does not fit %s", code, words)
            return wording._translate("en_US") % _Lenient(words)

    @api.model
    def _cti_cause(self, cause):
        """A call cause as the user reads it (as it comes when it has no wording)."""
        wording = CAUSE_TEXT.get((cause or "").lower())
        return self.env._(wording) if wording else (cause or "")

    @api.model
    def _cti_cause_labels(self):
        """``{cause: label}`` in the environment's language, for the web client."""
        return {cause: self.env._(label) for cause, label in CAUSE_TEXT.items()}

    def _cti_word(self, table, key):
        wording = table.get(key)
        return self.env._(wording) if wording else str(key or "")
