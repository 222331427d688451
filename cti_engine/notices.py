"""What the engine tells the user: a code and its parameters, never a sentence.

An activity event (``INFO``, ``ERROR``, ``READY``...) carries ``code`` and ``params``; the
Odoo layer words it in the user's language (``models/cti_notice.py``, where each code has
its one translatable text) and adds it as the reference's ``message``. Parameters are data
(an extension, a status line, a number, an action of :data:`ACTIONS`), never words.

A driver or a control that cannot act returns a :class:`Notice` (why not), which the agent
sends as an INFO.
"""

import dataclasses

# Session
ALREADY_LOGGED_IN = "already_logged_in"
NOT_LOGGED_IN = "not_logged_in"
LOGGED_IN = "logged_in"  # user
LOGGED_OUT = "logged_out"
CONNECTED = "connected"
ACCOUNT_UNUSABLE = "account_unusable"  # setting: a key of SETTINGS
CREDENTIALS_REFUSED = "credentials_refused"  # user, status
NO_CALL_STATE = "no_call_state"  # user
EVENTS_NOT_SUPPORTED = "events_not_supported"
WATCHING_FORBIDDEN = "watching_forbidden"  # user
WATCHING_REFUSED = "watching_refused"  # status
CONNECTION_LOST = "connection_lost"  # reason (and detail), see REASONS
PBX_UNREACHABLE = "pbx_unreachable"  # url, reason (and detail), see REASONS
# Manager Interface (Asterisk)
MANAGER_BACK = "manager_back"
MANAGER_REFUSED = "manager_refused"  # address, user, reason: the PBX's own message
MANAGER_DOWN = "manager_down"  # address, reason (and detail), see REASONS
MANAGER_NOT_CONNECTED = "manager_not_connected"
# Calls
NOT_CONNECTED = "not_connected"
ANSWERED_ALREADY = "answered_already"
CANNOT_ANSWER = "cannot_answer"
CALL_ENDED = "call_ended"  # action
NO_SUCH_CALL = "no_such_call"  # call, action
RINGING_CANNOT_END = "ringing_cannot_end"
CANNOT_END = "cannot_end"
CANNOT_END_REFUSED = "cannot_end_refused"  # status: the phone's refusal
CANNOT_END_BOTH_REFUSED = "cannot_end_both_refused"  # status (the phone's), other_status
CANNOT_END_OTHER_REFUSED = "cannot_end_other_refused"  # status: the other side's refusal
CANNOT_TRANSFER_OTHER_REFUSED = "cannot_transfer_other_refused"  # status
NOT_AVAILABLE = "not_available"  # action
PBX_CANNOT = "pbx_cannot"
NOT_RINGING = "not_ringing"
NOT_FOUND = "not_found"
ALREADY_ON_HOLD = "already_on_hold"
NOT_ON_HOLD = "not_on_hold"
CANNOT_NOW = "cannot_now"  # action
PBX_ACTION_FAILED = "pbx_action_failed"  # action, destination (or ""), reason
CONTROL_FAILED = "control_failed"  # action, status
TRANSFER_FAILED = "transfer_failed"  # destination, cause (a call cause)
PHONE_KEY_REFUSED = "phone_key_refused"  # action, status
# Commands the service could not carry out (``service/commands.py``)
COMMAND_EXPIRED = "command_expired"
COMMAND_REFUSED = "command_refused"  # reason: what was wrong with the row, for the admin
# Numbers (``phone.InvalidDestination``)
NUMBER_NOT_TEXT = "number_not_text"
NUMBER_EMPTY = "number_empty"
NUMBER_CONTROL_CHARACTERS = "number_control_characters"  # number
NUMBER_NOT_A_NUMBER = "number_not_a_number"  # number
NUMBER_NO_DIGITS = "number_no_digits"  # number
NUMBER_INVALID = "number_invalid"  # number

# The actions a notice may name (its ``action`` parameter).
ACTIONS = (
    "answer",
    "hang up",
    "decline",
    "hold",
    "resume",
    "transfer",
    "ask-first transfer",
    "complete",
    "cancel",
    "call first",
)
# The account settings ACCOUNT_UNUSABLE may name.
SETTINGS = ("username", "auth_username", "domain", "ws_url")

# Why a connection to the PBX (SIP over WebSocket, or the Manager Interface) ended or could
# not be made: the ``reason`` parameter of CONNECTION_LOST, PBX_UNREACHABLE and MANAGER_DOWN.
# The system's own words, where there are any ("[Errno 111] Connection refused", OpenSSL's
# verify message), come in ``detail``, shown as they are.
REASON_CLOSED_BY_PBX = "closed_by_pbx"
REASON_CANNOT_CONNECT = "cannot_connect"  # detail
REASON_CONNECTION_BROKEN = "connection_broken"  # detail
REASON_NO_KEEPALIVE_ANSWER = "no_keepalive_answer"
REASON_NOT_SIP = "not_sip"  # the server refused the WebSocket subprotocol "sip"
REASON_REDIRECT = "redirect"  # the PBX answered with a redirect, which is never followed
REASON_TLS_UNVERIFIED = "tls_unverified"  # detail
REASON_TOO_MUCH = "too_much"  # detail: what the PBX sent beyond the limits
REASONS = (
    REASON_CLOSED_BY_PBX,
    REASON_CANNOT_CONNECT,
    REASON_CONNECTION_BROKEN,
    REASON_NO_KEEPALIVE_ANSWER,
    REASON_NOT_SIP,
    REASON_REDIRECT,
    REASON_TLS_UNVERIFIED,
    REASON_TOO_MUCH,
)


def connection_reason(reason, detail=None):
    """The parameters saying why a connection ended: ``reason``, one of :data:`REASONS`, and
    the first line of ``detail`` (text or an exception), if any."""
    why = {"reason": reason}
    if detail is not None:
        text = str(detail) or type(detail).__name__
        why["detail"] = text.splitlines()[0][:200]
    return why


@dataclasses.dataclass(frozen=True)
class Notice:
    """One thing to tell the user: a code of this module and its parameters."""

    code: str
    params: dict = dataclasses.field(default_factory=dict)

    def as_dict(self):
        return {"code": self.code, "params": dict(self.params)}


def notice(code, **params):
    return Notice(code, params)
