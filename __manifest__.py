{
    "name": "CTI Connector",
    "summary": "Click-to-call, screen pop and call logging over SIP (WebSocket) for Odoo",
    "version": "18.0.0.1.0",
    "category": "Sales/CRM",
    "author": "cti_connector",
    "website": "https://github.com/cti-connector/cti_connector",
    "license": "LGPL-3",
    "depends": ["mail", "contacts", "crm", "phone_validation", "bus"],
    "external_dependencies": {
        "python": ["phonenumbers", "websocket", "sipmessage", "psycopg2"],
    },
    "data": [],
    "installable": True,
    "application": True,
}
