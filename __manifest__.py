{
    "name": "CTI Connector",
    "summary": "Click-to-call, screen pop and call logging over SIP (WebSocket) for Odoo",
    "version": "18.0.0.1.0",
    "category": "Sales/CRM",
    "author": "cti_connector",
    "website": "https://github.com/cti-connector/cti_connector",
    "license": "LGPL-3",
    "depends": ["mail", "contacts", "crm", "bus"],
    "external_dependencies": {
        "python": ["phonenumbers", "websocket-client", "sipmessage", "psycopg2", "cryptography"],
    },
    "data": [
        "security/cti_connector_security.xml",
        "security/ir.model.access.csv",
        "views/cti_pbx_views.xml",
        "views/cti_account_views.xml",
        "views/cti_call_views.xml",
        "views/res_partner_views.xml",
        "views/crm_lead_views.xml",
        "views/res_users_views.xml",
        "views/res_users_screen_pop_views.xml",
        "views/cti_connector_menus.xml",
    ],
    "demo": [
        "demo/cti_demo.xml",
    ],
    "assets": {
        "web.assets_backend": [
            "cti_connector/static/src/**/*",
        ],
        "web.assets_tests": [
            "cti_connector/static/tests/tours/**/*",
        ],
    },
    "post_load": "post_load",
    "installable": True,
    "application": True,
}
