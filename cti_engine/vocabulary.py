"""The terms the engine, the Odoo layer and the web client share, exported in one piece.

Each is defined once, in the engine module it belongs to (``events``: call events, session
states; ``drivers``: controls). The Odoo layer imports them from there; the web client gets
:func:`as_json` in its session info (``cti_vocabulary``, see ``models/ir_http.py``) and
reads it through ``static/src/core/vocabulary.js``, so no list of them is copied into
JavaScript.
"""

from .drivers import CONTROLS
from .events import (
    ACTIVITY_EVENTS,
    CALL_EVENTS,
    FINAL_EVENTS,
    REFERENCE_CALL_KEYS,
    RINGING_EVENTS,
    SESSION_STATES,
    TROUBLE_STATES,
    Direction,
)


def as_json():
    """The shared terms as JSON-able lists of strings (their values, not enum names)."""
    return {
        "activityEvents": list(ACTIVITY_EVENTS),
        "callEvents": [event.value for event in CALL_EVENTS],
        "finalEvents": [event.value for event in FINAL_EVENTS],
        "ringingEvents": [event.value for event in RINGING_EVENTS],
        "directions": [direction.value for direction in Direction],
        "sessionStates": list(SESSION_STATES),
        "troubleStates": list(TROUBLE_STATES),
        "controls": list(CONTROLS),
        "referenceCallKeys": list(REFERENCE_CALL_KEYS),
    }
