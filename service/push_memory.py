"""What the push lane and ``cti.push._cti_handle_events`` share: what the lane keeps
between its transactions, and how it marks a watcher's events."""

# Marks the events of a watcher (the service host's agent on the line of a user who is not
# logged in to the CTI): they update that line (``cti.line.state``) and go nowhere else.
WATCH_KEY = "_cti_watch"


class PushMemory:
    """What the service host keeps from one push transaction to the next.

    ``parties``: who each call in progress is with, by ``(user id, call id)``.
    ``visibility``: what decides which records each user finds (see
    ``cti.push._cti_visibility``), by user id, valid as long as the registry and its
    caches are: any change of access rights, rules or groups, here or signalled by another
    process, forgets it all.
    """

    __slots__ = ("_sequences", "parties", "visibility")

    def __init__(self):
        self.parties = {}
        self.visibility = {}
        self._sequences = None

    def check(self, registry):
        sequences = (registry.registry_sequence, tuple(sorted(registry.cache_sequences.items())))
        if sequences != self._sequences:
            self.visibility.clear()
            self._sequences = sequences
