/** @odoo-module **/

import { Component, useState } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { useBus, useService } from "@web/core/utils/hooks";

const STATUS_LABELS = {
    RINGING: _t("Incoming call"),
    CONNECTED: _t("Connected"),
    ON_HOLD: _t("On hold"),
};

/**
 * A compact card, in a corner, for the inbound call the user is taking: who it is, Answer,
 * Hang up, and a way to the softphone for the rest. The screen pop opens the caller's form
 * meanwhile; the card leaves that form readable, where the softphone panel would cover it.
 *
 * Only for a call heard ringing on this page (not one the bus replays), until it ends; not
 * while the softphone panel shows the call itself (see incoming_call.scss).
 */
export class IncomingCall extends Component {
    static template = "cti_connector.IncomingCall";
    static props = {};

    setup() {
        this.cti = useService("cti");
        this.ctiState = useState(this.cti.state);
        this.numbers = useService("cti_numbers");
        this.formatted = useState(this.numbers.formatted);
        this.action = useService("action");
        this.state = useState({ heard: {} }); // call id -> true, for calls heard ringing live
        useBus(this.cti.bus, "RINGING", ({ detail }) => {
            if (!detail.replayed && detail.call?.direction === "INBOUND") {
                this.state.heard[detail.call.id] = true;
            }
        });
    }

    get calls() {
        return Object.values(this.ctiState.calls)
            .filter((call) => this.state.heard[call.id] && STATUS_LABELS[call.status])
            .sort((a, b) => a.since - b.since);
    }

    /** The caller: the contact, the colleague or the name the PBX gave, and the number. */
    caller(call) {
        this.numbers.request(call.source);
        const number = this.formatted[call.source] || call.source || "";
        const colleague = call.partnerName ? null : this.cti.colleague(call.source);
        const name =
            call.partnerName ||
            colleague?.name ||
            (call.sourceName !== call.source && call.sourceName) ||
            "";
        return {
            name: name || number || _t("Unknown caller"),
            number: name ? number : "",
            avatar: colleague?.avatar || "",
        };
    }

    statusLabel(call) {
        return STATUS_LABELS[call.status];
    }

    answer(call) {
        return this.cti.answer(call.id);
    }

    hangUp(call) {
        return this.cti.terminate(call.id);
    }

    openPartner(call) {
        this.action.doAction({
            type: "ir.actions.act_window",
            res_model: "res.partner",
            res_id: call.partnerId,
            views: [[false, "form"]],
        });
    }

    openSoftphone() {
        this.cti.bus.trigger("OPEN_SOFTPHONE");
    }
}

registry.category("main_components").add("cti_connector.IncomingCall", {
    Component: IncomingCall,
});
