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
CONNECTION_LOST = "connection_lost"  # reason
PBX_UNREACHABLE = "pbx_unreachable"  # url, reason
# Manager Interface (Asterisk)
MANAGER_BACK = "manager_back"
MANAGER_REFUSED = "manager_refused"  # address, user, reason
MANAGER_DOWN = "manager_down"  # address, reason
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


@dataclasses.dataclass(frozen=True)
class Notice:
    """One thing to tell the user: a code of this module and its parameters."""

    code: str
    params: dict = dataclasses.field(default_factory=dict)

    def as_dict(self):
        return {"code": self.code, "params": dict(self.params)}


def notice(code, **params):
    return Notice(code, params)
