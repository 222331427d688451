# The service (SIP sessions inside Odoo) imports nothing of the models; the models use its
# secret and push-memory modules.
from . import service  # noqa: I001
from . import controllers, models  # noqa: F401


def post_load():
    """Runs only when the module is server-wide (``--load=...,cti_connector``)."""
    service.install()
