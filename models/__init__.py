# isort: off
# The mixin first: res.partner and crm.lead inherit it, and models are built in import order.
from . import cti_number_mixin  # noqa: F401

# isort: on
from . import (
    crm_lead,  # noqa: F401
    crm_lead_calls,  # noqa: F401
    cti_account,  # noqa: F401
    cti_call,  # noqa: F401
    cti_call_chatter,  # noqa: F401
    cti_call_events,  # noqa: F401
    cti_command,  # noqa: F401
    cti_line_state,  # noqa: F401
    cti_notice,  # noqa: F401
    cti_pbx,  # noqa: F401
    cti_push,  # noqa: F401
    cti_push_line_state,  # noqa: F401
    cti_rate_limit,  # noqa: F401
    ir_http,  # noqa: F401
    ir_websocket,  # noqa: F401
    res_partner,  # noqa: F401
    res_partner_calls,  # noqa: F401
    res_users,  # noqa: F401
    res_users_colleagues,  # noqa: F401
    res_users_screen_pop,  # noqa: F401
)
