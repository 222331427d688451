from . import (
    test_access,  # noqa: F401
    test_call_log,  # noqa: F401
    test_call_report_tour,  # noqa: F401
    test_models,  # noqa: F401
    test_number_matching,  # noqa: F401
    test_password,  # noqa: F401
    test_push_events,  # noqa: F401
    test_res_users,  # noqa: F401
    test_routes,  # noqa: F401
    test_screen_pop_tour,  # noqa: F401
    test_service,  # noqa: F401
    test_session_info,  # noqa: F401
    test_softphone_tour,  # noqa: F401
)
