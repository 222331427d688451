/** @odoo-module **/

import { Component, onWillStart, onWillUnmount, useState } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { useService } from "@web/core/utils/hooks";

export const LINE_LABELS = {
    offline: _t("Offline"),
    free: _t("Free"),
    ringing: _t("Ringing"),
    on_call: _t("On a call"),
    on_hold: _t("On hold"),
};
const LINE_BADGES = {
    offline: "text-bg-light",
    free: "text-bg-success",
    ringing: "text-bg-warning",
    on_call: "text-bg-danger",
    on_hold: "text-bg-info",
};

/** "YYYY-MM-DD HH:MM:SS" in UTC, as the server writes it, to milliseconds. */
export function parseUtc(since) {
    return since ? Date.parse(`${since.replace(" ", "T")}Z`) : NaN;
}

/**
 * The softphone's Team tab: each colleague's line (from the `cti_team` service), since
 * when, with whom when this user may read the partner, and a button to call them.
 */
export class CtiTeamTab extends Component {
    static template = "cti_connector.TeamTab";
    static props = {};

    setup() {
        this.cti = useService("cti");
        this.ctiState = useState(this.cti.state);
        this.team = useService("cti_team");
        this.teamState = useState(this.team.state);
        this.state = useState({ now: Date.now() });
        onWillStart(() => this.team.load().catch(() => {}));
        const timer = setInterval(() => (this.state.now = Date.now()), 1000);
        onWillUnmount(() => clearInterval(timer));
    }

    get members() {
        return Object.values(this.teamState.members).sort((a, b) =>
            (a.name || "").localeCompare(b.name || "")
        );
    }

    avatarUrl(member) {
        return `/web/image/res.users/${member.userId}/avatar_128`;
    }

    stateLabel(member) {
        return LINE_LABELS[member.state] || member.state;
    }

    stateBadge(member) {
        return LINE_BADGES[member.state] || "text-bg-light";
    }

    /** How long the line has been in its state: "4:05", "1:02:03". */
    elapsed(member) {
        const start = parseUtc(member.since);
        if (member.state === "offline" || Number.isNaN(start)) {
            return "";
        }
        const seconds = Math.max(0, Math.floor((this.state.now - start) / 1000));
        const hours = Math.floor(seconds / 3600);
        const minutes = Math.floor((seconds % 3600) / 60);
        const rest = String(seconds % 60).padStart(2, "0");
        return hours ? `${hours}:${String(minutes).padStart(2, "0")}:${rest}` : `${minutes}:${rest}`;
    }

    canCall(member) {
        return this.ctiState.status === "ready" && Boolean(member.extension);
    }

    callTitle(member) {
        return _t("Call %(name)s", { name: member.name });
    }

    call(member) {
        return this.cti.call(member.extension);
    }
}
