/** @odoo-module **/

import { Component } from "@odoo/owl";
import { Dialog } from "@web/core/dialog/dialog";
import { _t } from "@web/core/l10n/translation";

const KINDS = {
    "res.partner": { icon: "fa-address-card-o", label: _t("Contact") },
    "crm.lead": { icon: "fa-star-o", label: _t("Lead / Opportunity") },
};

/** The records a ringing number matched, for the user to pick the one to open. */
export class ScreenPopChooser extends Component {
    static template = "cti_connector.ScreenPopChooser";
    static components = { Dialog };
    static props = {
        caller: String,
        number: String,
        records: {
            type: Array,
            element: {
                type: Object,
                shape: { model: String, id: Number, name: { type: String, optional: true } },
            },
        },
        onChoose: Function,
        close: Function,
    };

    get title() {
        return _t("Incoming call from %s", this.props.caller);
    }

    kind(record) {
        return KINDS[record.model] || { icon: "fa-file-o", label: record.model };
    }

    choose(record) {
        this.props.close();
        this.props.onChoose(record);
    }
}
