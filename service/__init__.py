"""The CTI service: where the users' SIP sessions live inside Odoo.

How it runs, by server mode (it is loaded only as a server-wide module:
``--load=base,web,cti_connector``):

* threaded server (``workers = 0``, the default): one daemon thread in the server process,
  started with the HTTP server and stopped with it;
* prefork (``workers > 0``): one dedicated worker process, spawned and respawned by the
  master like the cron workers, so ``limit_memory_*`` and ``limit_time_real`` still apply:
  when the worker recycles, its PostgreSQL locks go with it and it (or another node) takes
  the users back within seconds;
* the gevent (long-polling) process: never;
* ``--stop-after-init``, ``--test-enable`` and ``odoo-bin shell``: never; tests start a
  :class:`~.host.ServiceHost` themselves.

Several processes or nodes on one database share the users through per-user advisory locks
(see :mod:`.host`); ``[cti_connector] max_users`` caps how many one process takes. Once its
registries are loaded, a process running the service leaves them out of Python's cyclic
garbage collector (``gc.freeze``, see :meth:`.runner.ServiceRunner._freeze_heap`): a full
collection of an Odoo heap stops every thread for longer than a screen pop may take. Settings:
``[cti_connector]`` in the Odoo configuration file, each overridable by an ``ODOO_CTI_*``
environment variable (see :mod:`.config`).
"""

import logging
import time

from odoo.service import server
from odoo.tools import config as odoo_config

from .config import ServiceConfig
from .runner import ServiceRunner

_logger = logging.getLogger(__name__)

_runner = None


def _should_run():
    if odoo_config["stop_after_init"] or odoo_config["test_enable"] or odoo_config["test_file"]:
        return False
    if not ServiceConfig.load().enabled:
        _logger.info("CTI service disabled by configuration")
        return False
    return True


class WorkerCti(server.Worker):
    """The prefork worker that hosts the CTI service."""

    def start(self):
        super().start()
        if self.multi.socket:
            self.multi.socket.close()
        self.runner = ServiceRunner().start()

    def sleep(self):
        time.sleep(self.multi.beat)

    def stop(self):
        self.runner.stop()
        super().stop()


def install():
    """Patch the server classes so that each mode runs the service as described above."""
    if getattr(server, "_cti_connector_installed", False):
        return
    server._cti_connector_installed = True
    threaded_start = server.ThreadedServer.start
    threaded_stop = server.ThreadedServer.stop
    prefork_init = server.PreforkServer.__init__
    prefork_spawn = server.PreforkServer.process_spawn
    prefork_pop = server.PreforkServer.worker_pop

    def start(self, *args, **kwargs):
        global _runner  # noqa: PLW0603 - one runner per process
        result = threaded_start(self, *args, **kwargs)
        if _should_run() and not kwargs.get("stop") and _runner is None:
            _logger.info("Starting the CTI service thread")
            _runner = ServiceRunner().start()
        return result

    def stop(self):
        global _runner  # noqa: PLW0603
        if _runner is not None:
            _runner.stop()
            _runner = None
        return threaded_stop(self)

    def init(self, app):
        prefork_init(self, app)
        self.workers_cti = {}

    def process_spawn(self):
        prefork_spawn(self)
        if not self.workers_cti and _should_run():
            self.worker_spawn(WorkerCti, self.workers_cti)

    def worker_pop(self, pid):
        self.workers_cti.pop(pid, None)
        return prefork_pop(self, pid)

    server.ThreadedServer.start = start
    server.ThreadedServer.stop = stop
    server.PreforkServer.__init__ = init
    server.PreforkServer.process_spawn = process_spawn
    server.PreforkServer.worker_pop = worker_pop
