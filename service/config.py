"""Settings of the CTI service: ``[cti_connector]`` in odoo.conf, overridden by ODOO_CTI_*."""

import dataclasses
import os

from odoo.tools import config as odoo_config


@dataclasses.dataclass
class ServiceConfig:
    enabled: bool = True
    # Users whose SIP agent one process may hold; the rest are left to other nodes.
    max_users: int = 500
    # Seconds between two looks at who should be logged in (NOTIFY usually comes first).
    reconcile_interval: float = 5.0
    # Comma-separated databases to serve; empty means --database, else every database
    # where cti_connector is installed.
    databases: str = ""
    # The lock connection; empty means Odoo's own db_host/db_port.
    db_host: str = ""
    db_port: int = 0
    # Fernet keys (comma-separated, newest first) that encrypt the SIP passwords at rest;
    # see secret.py. Never shown: not in repr, not in a log.
    secret_key: str = dataclasses.field(default="", repr=False)

    @classmethod
    def load(cls):
        section = odoo_config.misc.get("cti_connector", {})
        values = {}
        for field in dataclasses.fields(cls):
            raw = os.environ.get(f"ODOO_CTI_{field.name.upper()}", section.get(field.name))
            if raw is None or raw == "":
                continue
            if field.type in (bool, "bool"):
                values[field.name] = str(raw).strip().lower() in ("1", "true", "yes", "on")
            elif field.type in (int, "int"):
                values[field.name] = int(raw)
            elif field.type in (float, "float"):
                values[field.name] = float(raw)
            else:
                values[field.name] = str(raw)
        return cls(**values)
