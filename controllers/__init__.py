from . import (
    main,  # noqa: F401
    team,  # noqa: F401
)
