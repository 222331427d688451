"""Scripts of the repository (``tools/test``, ``tools/run``); ``python -m tools.demo``."""
