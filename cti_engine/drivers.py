"""PBX drivers: what a PBX can do for the calls its users' agents only observe.

Every PBX is reached per user over SIP (``agent``: dialog events to watch calls, third-party
call control for click-to-call, Replaces where phones accept it). Some PBXs also offer a
control channel that acts on any call: a driver wraps it. The service builds one driver per
PBX and hands it to the agent of each user of that PBX; the agent asks it, for each call it
observes, which controls it can carry out (:meth:`PbxDriver.controls`) and has it carry them
out (:meth:`PbxDriver.act`). A new PBX type is a new driver class in a module of its own
(as ``asterisk``), listed in the package's ``make_driver``; nothing else changes.

Drivers run in the reactor thread, like agents.
"""

from . import notices
from .notices import notice

# Control names, as call events list them in ``call["controls"]`` and the routes take them.
ANSWER = "answer"
TERMINATE = "terminate"
HOLD = "hold"  # and resume: one control, the button says which
TRANSFER = "transfer"
CONSULT = "consult"  # ask-first transfer: a second line to the target, the call on hold
COMPLETE = "complete"  # on that second line: hand the call over to the target
CONTROLS = (ANSWER, TERMINATE, HOLD, TRANSFER, CONSULT, COMPLETE)


class PbxDriver:
    """The interface, and the driver of a PBX reached over SIP only ("SIP only")."""

    kind = "sip"

    def start(self):
        """Open the control channel, if any (reactor thread)."""

    def stop(self):
        """Close it for good."""

    def attach(self, agent):
        """``agent`` (a logged-in user's) wants this PBX's help with its calls."""

    def detach(self, agent):
        """``agent`` logged out."""

    def controls(self, agent, call):
        """The controls this driver can carry out on ``call``, an observed ``Call`` of
        ``agent``'s user, right now (a subset of :data:`CONTROLS`)."""
        return ()

    def fill_in(self, agent, call):
        """Complete ``call`` (an observed ``Call`` of ``agent``'s user) with what the PBX
        knows and its SIP events left out, e.g. the number a desk phone dialled.

        :return: whether anything was filled in
        """
        return False

    def own_call(self, agent, call_id):
        """A call the driver placed for ``agent``'s user (an ask-first transfer's second
        line), by id; None if there is none."""
        return None

    def act(self, agent, call, action, destination=None):
        """Carry ``action`` out on ``call``; the outcome arrives as events through the
        agent. ``destination`` (transfer) is already a normalised number or extension.

        :return: None when under way, else why it cannot be done (a ``Notice``, an INFO)
        """
        return notice(notices.PBX_CANNOT)


SipOnlyDriver = PbxDriver
