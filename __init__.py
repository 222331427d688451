from . import controllers, models  # noqa: F401


def post_load():
    """Runs only when the module is server-wide (``--load=...,cti_connector``)."""
    from . import service

    service.install()
