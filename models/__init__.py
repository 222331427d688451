from . import (
    crm_lead,  # noqa: F401
    crm_lead_calls,  # noqa: F401
    cti_account,  # noqa: F401
    cti_call,  # noqa: F401
    cti_command,  # noqa: F401
    cti_pbx,  # noqa: F401
    ir_http,  # noqa: F401
    res_partner,  # noqa: F401
    res_partner_calls,  # noqa: F401
    res_users,  # noqa: F401
    res_users_screen_pop,  # noqa: F401
)
