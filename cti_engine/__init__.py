"""Pure-Python CTI engine: one SIP-over-WebSocket user agent per user.

Nothing in this package imports Odoo; the addon wraps it (see ``service/``) and the engine
tests run it with pytest against real Kamailio, SIPp and baresip. Every module uses relative
imports only, so the package works both as ``cti_engine`` and as
``odoo.addons.cti_connector.cti_engine``.
"""

from .agent import AgentConfig, UserAgent
from .events import Call, CallEvent, Direction
from .phone import InvalidDestination, normalize_destination
from .reactor import Reactor

__all__ = [
    "AgentConfig",
    "Call",
    "CallEvent",
    "Direction",
    "InvalidDestination",
    "Reactor",
    "UserAgent",
    "normalize_destination",
]
