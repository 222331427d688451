"""Real-PBX lab: Kamailio or Asterisk + baresip + SIPp on loopback, driven from Python.

Standard library only.  Used by the pytest fixtures in ``tests_engine``, the Odoo tests,
``tests_system``, the benchmarks and demo scripts.  Every class writes its configuration
into a run directory, picks free 127.0.0.1 ports, waits until the program is ready and
always kills its process group on ``stop()``.

Example::

    from lab import Baresip, Kamailio, SippFactory

    run = Path("/tmp/run1")
    sipp = SippFactory(run)                      # reserves the gateway port
    with Kamailio(run, users={"1001": "pw1001"}, gateway=sipp.gateway) as pbx:
        with Baresip(run, "1001", "pw1001", pbx) as phone:
            phone.wait_registered()
            caller = sipp.uac(pbx, "1001", talk_s=3)   # SIPp calls 1001
            phone.wait_event("CALL_INCOMING")
            phone.answer()
            assert caller.wait() == 0

``Asterisk(run, users=..., gateway=sipp.gateway)`` is a drop-in for ``Kamailio`` (same
``ws_url``, ``domain``, ``aor()``, ``sip_uri``, ``start/stop/restart``, ``log_text``,
``wait_for_log``); ``find_asterisk()`` says whether one is installed.

One module per program:

=================  ==========================================================================
``common``         LabError, install hints, free ports, the managed process, probes,
                   ConnectionCounter (a port behind which a PBX is down)
``pki``            TestPki: a private CA and server certificate per run
``pbx_base``       LabPbx: what Kamailio and Asterisk share
``kamailio``       Kamailio (config ``conf/kamailio/kamailio.cfg``)
``asterisk``       Asterisk, find_asterisk (config templates ``conf/asterisk/*.conf``)
``baresip``        Baresip: a desk phone driven through ctrl_tcp
``sipp``           SippFactory, SippRun (scenarios ``conf/sipp/*.xml``)
``hostile``        HostilePbx: a scripted hostile SIP-over-WebSocket "PBX"
``wsraw``          RawWsSip: a raw SIP-over-WebSocket client (needs the test venv)
``odoo``           find_odoo_dir, OdooServer: odoo-bin serving this checkout (system tests,
                   benchmarks, the demo)
=================  ==========================================================================

``hostile``, ``wsraw`` and ``odoo`` are not imported here: ``from lab.hostile import
HostilePbx``, ``from lab.odoo import OdooServer``.
"""

from .asterisk import ASTERISK_DIR, ASTERISK_HINT, Asterisk, find_asterisk
from .baresip import Baresip
from .common import (
    INSTALL_HINT,
    LOOPBACK,
    ConnectionCounter,
    LabError,
    _udp_port_bound,
    free_port,
    free_port_both,
    require_binary,
    wait_until,
)
from .kamailio import KAMAILIO_CFG, TLS_MODULE_HINT, Kamailio
from .pbx_base import LabPbx
from .pki import TestPki
from .sipp import SIPP_DIR, SippFactory, SippRun

__all__ = [
    "ASTERISK_DIR",
    "ASTERISK_HINT",
    "INSTALL_HINT",
    "KAMAILIO_CFG",
    "LOOPBACK",
    "SIPP_DIR",
    "TLS_MODULE_HINT",
    "Asterisk",
    "Baresip",
    "ConnectionCounter",
    "Kamailio",
    "LabError",
    "LabPbx",
    "SippFactory",
    "SippRun",
    "TestPki",
    "_udp_port_bound",
    "find_asterisk",
    "free_port",
    "free_port_both",
    "require_binary",
    "wait_until",
]
