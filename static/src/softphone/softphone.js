/** @odoo-module **/

import { Component, onWillUnmount, useEffect, useState } from "@odoo/owl";
import { useDiscussSystray } from "@mail/utils/common/hooks";
import { AutoComplete } from "@web/core/autocomplete/autocomplete";
import { Dropdown } from "@web/core/dropdown/dropdown";
import { useDropdownState } from "@web/core/dropdown/dropdown_hooks";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { useBus, useService } from "@web/core/utils/hooks";
import { CAUSE_LABELS, FINAL_EVENTS, SESSION_STATE_LABELS } from "../core/vocabulary";
import { CtiTeamTab, LINE_LABELS } from "../team/team_tab";

const SESSION_BADGES = {
    logged_out: "text-bg-secondary",
    connecting: "text-bg-info",
    ready: "text-bg-success",
    reconnecting: "text-bg-warning",
    failed: "text-bg-danger",
};
const CALL_LABELS = {
    INITIAL: _t("Your phone is ringing"),
    ACCEPTED: _t("Calling"),
    RINGING: _t("Ringing"),
    CONNECTED: _t("Connected"),
    ON_HOLD: _t("On hold"),
    HANGUP: _t("Ended"),
    CANCEL: _t("Not connected"),
};
const AUTOCOMPLETE_LIMIT = 8;
// The dropdown's keyboard navigation would take Enter and the arrows from the dial box and
// the transfer field; the panel has no menu items to navigate.
const NO_MENU_NAVIGATION = {
    hotkeys: { enter: false, tab: false, "shift+tab": false, arrowup: false, arrowdown: false },
};

/**
 * The systray softphone: the CTI session, the user's current calls with their controls,
 * a dial box and the last calls. All state lives in the `cti` service; this only shows it.
 */
export class Softphone extends Component {
    static template = "cti_connector.Softphone";
    static components = { AutoComplete, Dropdown, CtiTeamTab };
    static props = {};

    setup() {
        this.cti = useService("cti");
        this.ctiState = useState(this.cti.state);
        this.numbers = useService("cti_numbers");
        this.formatted = useState(this.numbers.formatted);
        this.orm = useService("orm");
        this.action = useService("action");
        this.team = useService("cti_team");
        this.teamState = useState(this.team.state);
        // only users with a CTI account have colleagues to watch
        useEffect(
            (hasAccount) => {
                if (hasAccount) {
                    this.team.load().catch(() => {});
                }
            },
            () => [this.ctiState.hasAccount]
        );
        this.systray = useDiscussSystray();
        this.dropdown = useDropdownState();
        this.navigationOptions = NO_MENU_NAVIGATION;
        this.state = useState({
            dial: "",
            now: Date.now(),
            transferCallId: null,
            transferTo: "", // what the transfer field holds
            transferPicked: "", // the number picked from the suggestions, shown in the field
            busy: false,
            tab: "calls", // or "team"
        });

        // A new outbound call opens the panel: its controls are what the user needs next. Not
        // a call the page heard of only after it was over, nor one from before the page was
        // opened. An inbound call shows in a compact card instead (incoming_call.js), which
        // leaves the caller's form that the screen pop opens readable.
        useBus(this.cti.bus, "event", ({ detail }) => {
            if (
                ["INITIAL", "RINGING"].includes(detail.name) &&
                detail.call?.direction !== "INBOUND" &&
                !detail.replayed &&
                this.ctiState.calls[detail.call?.id] &&
                !this.dropdown.isOpen
            ) {
                this.dropdown.open();
            }
        });

        useBus(this.cti.bus, "OPEN_SOFTPHONE", () => this.dropdown.open());

        let timer = null;
        useEffect(
            (count) => {
                if (count && !timer) {
                    timer = setInterval(() => (this.state.now = Date.now()), 1000);
                } else if (!count && timer) {
                    clearInterval(timer);
                    timer = null;
                }
            },
            () => [this.calls.length]
        );
        onWillUnmount(() => clearInterval(timer));
    }

    // -- what is shown ---------------------------------------------------------------------

    get calls() {
        return Object.values(this.ctiState.calls).sort((a, b) => a.since - b.since);
    }

    get menuClass() {
        return `o_cti_softphone_menu ${this.systray.menuClass}`;
    }

    get sessionLabel() {
        return SESSION_STATE_LABELS[this.ctiState.status] || this.ctiState.status;
    }

    get sessionBadge() {
        return SESSION_BADGES[this.ctiState.status] || "text-bg-secondary";
    }

    get togglerClass() {
        if (this.calls.length) {
            return "text-success";
        }
        return this.ctiState.status === "ready" ? "" : "opacity-50";
    }

    formatNumber(number) {
        this.numbers.request(number);
        return this.formatted[number] || number || "";
    }

    /** The other party: the partner, the colleague or the name the PBX gave, and its
     * number. */
    party(call) {
        const inbound = call.direction === "INBOUND";
        const number = inbound ? call.source : call.destination;
        const colleague = call.partnerName ? null : this.cti.colleague(number);
        const name =
            call.partnerName ||
            colleague?.name ||
            (inbound ? call.sourceName : call.destinationName);
        return {
            name: name || this.formatNumber(number) || _t("Unknown number"),
            number: name ? this.formatNumber(number) : "",
            raw: number,
            avatar: colleague?.avatar || "",
        };
    }

    directionIcon(call) {
        return call.direction === "INBOUND" ? "fa-long-arrow-left" : "fa-long-arrow-right";
    }

    directionLabel(call) {
        return call.direction === "INBOUND" ? _t("Incoming") : _t("Outgoing");
    }

    statusLabel(call) {
        if (call.status === "RINGING" && call.direction === "INBOUND") {
            return _t("Incoming call");
        }
        const label = CALL_LABELS[call.status] || call.status;
        const cause = CAUSE_LABELS[call.cause?.toLowerCase()] || call.cause;
        return FINAL_EVENTS.includes(call.status) && cause ? `${label} (${cause})` : label;
    }

    timer(call) {
        const start = call.connectedAt || call.since;
        const seconds = Math.max(0, Math.floor(((call.endedAt || this.state.now) - start) / 1000));
        const minutes = Math.floor(seconds / 60);
        const hours = Math.floor(minutes / 60);
        const pad = (n) => String(n).padStart(2, "0");
        const mmss = `${pad(minutes % 60)}:${pad(seconds % 60)}`;
        return hours ? `${hours}:${mmss}` : mmss;
    }

    /** Whether the call offers `name` (its event's `controls`): no button can only fail. */
    can(call, name) {
        return this.cti.can(call, name);
    }

    // -- actions ---------------------------------------------------------------------------

    async run(command) {
        this.state.busy = true;
        try {
            return await command();
        } finally {
            this.state.busy = false;
        }
    }

    login() {
        return this.run(() => this.cti.login());
    }

    logout() {
        return this.run(() => this.cti.logout());
    }

    async dial(number = this.state.dial) {
        if (!number.trim()) {
            return;
        }
        const result = await this.run(() => this.cti.call(number.trim()));
        if (result?.queued) {
            this.state.dial = "";
        }
    }

    dismissMessage() {
        this.ctiState.message = "";
    }

    answer(call) {
        return this.cti.answer(call.id);
    }

    hangUp(call) {
        return this.cti.terminate(call.id);
    }

    hold(call) {
        return this.cti.hold(call.id);
    }

    /** Hand the call waiting on hold over to the party of this ask-first line. */
    complete(call) {
        return this.cti.complete(call.id);
    }

    resume(call) {
        return this.cti.resume(call.id);
    }

    toggleTransfer(call) {
        const open = this.state.transferCallId !== call.id;
        Object.assign(this.state, {
            transferCallId: open ? call.id : null,
            transferTo: "",
            transferPicked: "",
        });
    }

    /**
     * @param {Object} call
     * @param {boolean} [askFirst] call the target on a second line first (Complete or
     *     Hang up there), instead of handing the call over now
     */
    async transfer(call, askFirst = false) {
        const destination = this.state.transferTo.trim();
        if (!destination) {
            return;
        }
        const result = await this.run(() =>
            this.cti.transfer(call.id, destination, { askFirst })
        );
        if (result?.queued) {
            Object.assign(this.state, { transferCallId: null, transferTo: "", transferPicked: "" });
        }
    }

    openPartner(call) {
        if (!call.partnerId) {
            return;
        }
        this.dropdown.close();
        this.action.doAction({
            type: "ir.actions.act_window",
            res_model: "res.partner",
            res_id: call.partnerId,
            views: [[false, "form"]],
        });
    }

    // -- transfer autocomplete -------------------------------------------------------------

    get transferSources() {
        return [{ placeholder: _t("Searching..."), options: (term) => this.searchContacts(term) }];
    }

    async searchContacts(term) {
        if (!term) {
            return [];
        }
        const lowered = term.toLowerCase();
        const colleagues = Object.values(this.teamState.members)
            .filter(
                (member) =>
                    member.extension &&
                    ((member.name || "").toLowerCase().includes(lowered) ||
                        member.extension.includes(term))
            )
            .slice(0, AUTOCOMPLETE_LIMIT)
            .map((member) => ({
                label: `${member.name} — ${member.extension} · ${LINE_LABELS[member.state]}`,
                number: member.extension,
            }));
        const digits = term.replace(/\D/g, "");
        const domain = [
            "|",
            "|",
            ["name", "ilike", term],
            ["phone", "ilike", term],
            ["mobile", "ilike", term],
        ];
        if (digits) {
            domain.unshift("|", "|");
            domain.push(["phone_e164", "ilike", digits], ["mobile_e164", "ilike", digits]);
        }
        const partners = await this.orm.searchRead(
            "res.partner",
            [...domain, "|", ["phone", "!=", false], ["mobile", "!=", false]],
            ["display_name", "phone", "mobile"],
            { limit: AUTOCOMPLETE_LIMIT }
        );
        const options = colleagues;
        for (const partner of partners) {
            for (const number of [partner.phone, partner.mobile]) {
                if (number) {
                    options.push({
                        label: `${partner.display_name} — ${number}`,
                        number,
                    });
                }
            }
        }
        return options;
    }

    /** Typing changes only what is transferred to: a new `value` would close the suggestions. */
    onTransferInput({ inputValue }) {
        this.state.transferTo = inputValue;
    }

    onTransferSelect(option) {
        Object.assign(this.state, { transferTo: option.number, transferPicked: option.number });
    }
}

registry.category("systray").add("cti_connector.softphone", { Component: Softphone }, { sequence: 30 });
