"""One runner per Odoo process that hosts CTI agents: a reactor and a host per database."""

import gc
import logging
import threading

from odoo.modules.registry import Registry
from odoo.service import db as db_service
from odoo.tools import config as odoo_config

from ..cti_engine import Reactor
from .config import ServiceConfig
from .host import ServiceHost

_logger = logging.getLogger(__name__)

DATABASE_SCAN_INTERVAL = 60.0
# How long the first hosts may take to load their registries before the heap is frozen.
START_TIMEOUT = 60.0


class ServiceRunner:
    def __init__(self, config=None):
        self.config = config or ServiceConfig.load()
        self.reactor = None
        self.hosts = {}
        self._stopping = threading.Event()
        self._thread = None
        self._frozen_registries = None

    def start(self):
        self.reactor = Reactor().start()
        self._thread = threading.Thread(target=self._run, name="cti-runner", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(15)
        for host in self.hosts.values():
            host.stop()
        self.hosts.clear()
        if self.reactor is not None:
            self.reactor.stop()

    def _run(self):
        while not self._stopping.is_set():
            try:
                for db_name in self._databases():
                    if db_name not in self.hosts:
                        _logger.info("CTI service: serving database %s", db_name)
                        self.hosts[db_name] = ServiceHost(
                            db_name, self.config, self.reactor
                        ).start()
                self._freeze_heap()
            except Exception:
                _logger.exception("CTI service: could not list the databases to serve")
            self._stopping.wait(DATABASE_SCAN_INTERVAL)

    def _freeze_heap(self):
        """Leave what the process loaded at start (registries, modules) out of Python's
        cyclic garbage collections (``gc.freeze``).

        Why: a full collection walks every object of the process. In an Odoo server that is
        over a hundred thousand objects and 100 ms or more, during which no thread runs: a
        burst of calls allocates enough to start one, and its screen pops wait for it.
        Frozen objects are still freed when nothing refers to them any more; only cycles
        among them are not, so when a registry is reloaded (a module installed or updated
        by another process) the old one is unfrozen and collected, and the heap frozen again.
        """
        for host in self.hosts.values():
            host.started.wait(START_TIMEOUT)
        registries = {db_name: id(Registry.registries.get(db_name)) for db_name in self.hosts}
        if registries == self._frozen_registries:
            return
        if self._frozen_registries is not None:
            gc.unfreeze()
            gc.collect()
        gc.freeze()
        self._frozen_registries = registries
        _logger.info(
            "CTI service: %d objects left out of garbage collection", gc.get_freeze_count()
        )

    def _databases(self):
        names = self.config.databases or odoo_config["db_name"] or ""
        if names:
            return [name.strip() for name in names.split(",") if name.strip()]
        return [name for name in db_service.list_dbs(True) if _has_module(name)]


def _has_module(db_name):
    from odoo import sql_db

    try:
        with sql_db.db_connect(db_name).cursor() as cr:
            cr.execute(
                "SELECT 1 FROM ir_module_module "
                "WHERE name = 'cti_connector' AND state = 'installed'"
            )
            return bool(cr.fetchone())
    except Exception:  # noqa: BLE001 - a database that is not Odoo's, or being created
        return False
