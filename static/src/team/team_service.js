/** @odoo-module **/

import { EventBus, reactive } from "@odoo/owl";
import { rpc } from "@web/core/network/rpc";
import { registry } from "@web/core/registry";
import { user } from "@web/core/user";

/**
 * Colleagues' lines: loaded from `/cti/team` when first needed, then kept up to date from
 * the `cti_connector/line` notifications the service pushes on the company's channel.
 *
 * `state.members`: user id -> {userId, name, extension, state (offline, free, ringing,
 * on_call, on_hold), since (UTC, "YYYY-MM-DD HH:MM:SS"), partnerId, partnerName, event,
 * version}. `bus` triggers "line" with each notification, `extension` included.
 *
 * A line's `version` counts its changes: whichever of `/cti/team` and the bus reaches the
 * browser first, the newest wins (a change heard while `/cti/team` was on its way is kept
 * and applied if the answer predates it).
 */
export const ctiTeamService = {
    dependencies: ["bus_service", "orm"],

    start(env, { bus_service, orm }) {
        const bus = new EventBus();
        const state = reactive({ loaded: false, enabled: false, me: {}, members: {} });
        let loading = null;
        // user id -> the newest notification heard before the team was loaded
        let heardEarly = {};

        function load() {
            if (!loading) {
                loading = rpc("/cti/team").then(
                    ({ enabled, me, members }) => {
                        Object.assign(state, {
                            enabled,
                            me,
                            members: Object.fromEntries(members.map((m) => [m.userId, m])),
                            loaded: true,
                        });
                        const early = Object.values(heardEarly);
                        heardEarly = {};
                        for (const payload of early) {
                            update(payload);
                        }
                        return state;
                    },
                    (error) => {
                        loading = null;
                        throw error;
                    }
                );
            }
            return loading;
        }

        /** The partner's name, read with this user's rights: none if they may not. */
        async function namePartner(member, partnerId) {
            let name = false;
            try {
                const [partner] = await orm.searchRead(
                    "res.partner",
                    [["id", "=", partnerId]],
                    ["display_name"]
                );
                name = partner?.display_name || false;
            } catch {
                name = false;
            }
            if (member.partnerId === partnerId) {
                member.partnerName = name;
            }
        }

        /** Apply a notification to its member, unless what we know of the line is newer. */
        function update(payload) {
            const member = state.members[payload.userId];
            if (!member) {
                const known = heardEarly[payload.userId];
                if (!state.loaded && !(known && known.version >= payload.version)) {
                    heardEarly[payload.userId] = payload;
                }
                return;
            }
            if (payload.version <= member.version) {
                return;
            }
            const partnerChanged = member.partnerId !== payload.partnerId;
            Object.assign(member, {
                state: payload.state,
                since: payload.since,
                partnerId: payload.partnerId,
                version: payload.version,
                event: ["free", "offline"].includes(payload.state)
                    ? false
                    : payload.event || member.event,
            });
            if (partnerChanged) {
                member.partnerName = false;
                if (payload.partnerId) {
                    namePartner(member, payload.partnerId);
                }
            }
        }

        function handle(payload) {
            update(payload);
            bus.trigger("line", payload);
        }

        if (user.userId) {
            bus_service.subscribe("cti_connector/line", handle);
        }
        return { state, bus, load };
    },
};

registry.category("services").add("cti_team", ctiTeamService);
