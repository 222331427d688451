"""Pure-Python CTI engine: one SIP-over-WebSocket user agent per user.

Nothing in this package imports Odoo; the addon wraps it (see ``service/``) and the engine
tests run it with pytest against real Kamailio, SIPp and baresip. Every module uses relative
imports only, so the package works both as ``cti_engine`` and as
``odoo.addons.cti_connector.cti_engine``.
"""

from .agent import AgentConfig, UserAgent
from .asterisk import AsteriskDriver
from .drivers import SipOnlyDriver
from .events import Call, CallEvent, Direction
from .phone import InvalidDestination, normalize_destination
from .reactor import Reactor

# The PBX drivers by kind (``cti.pbx.driver``): how each is built from its settings.
DRIVERS = {
    "sip": lambda reactor, **settings: SipOnlyDriver(),
    "asterisk": AsteriskDriver,
}


def make_driver(kind, reactor, **settings):
    """The driver of ``kind`` (a key of :data:`DRIVERS`) with its settings; ``settings``
    holds what the kind needs (e.g. the Manager Interface's address and secret)."""
    if kind not in DRIVERS:
        raise ValueError(f"unknown PBX driver {kind!r}")
    return DRIVERS[kind](reactor, **settings)


__all__ = [
    "AgentConfig",
    "Call",
    "CallEvent",
    "Direction",
    "InvalidDestination",
    "Reactor",
    "DRIVERS",
    "UserAgent",
    "make_driver",
    "normalize_destination",
]
