/** @odoo-module **/

import { EventBus, reactive } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { rpc } from "@web/core/network/rpc";
import { registry } from "@web/core/registry";
import { user } from "@web/core/user";
import { session } from "@web/session";
import { FINAL_EVENTS, TALKED_STATUSES, TROUBLE_STATES } from "./vocabulary";

const HISTORY_SIZE = 10;
const HISTORY_FIELDS = [
    "sip_call_id",
    "direction",
    "status",
    "source",
    "destination",
    "partner_id",
    "start_date",
    "answer_date",
    "end_date",
    "hangup_cause",
];

function serverTime(value) {
    return value ? Date.parse(value.replace(" ", "T") + "Z") : null;
}

/** A finished call of the call log, as the softphone shows the calls it saw end. */
export function historyFromLog(row) {
    return {
        id: row.sip_call_id,
        direction: row.direction === "inbound" ? "INBOUND" : "OUTBOUND",
        status: TALKED_STATUSES.includes(row.status) ? "HANGUP" : "CANCEL",
        cause: row.hangup_cause || (row.status === "missed" ? "missed" : ""),
        source: row.source || "",
        destination: row.destination || "",
        partnerId: row.partner_id ? row.partner_id[0] : false,
        partnerName: row.partner_id ? row.partner_id[1] : false,
        since: serverTime(row.start_date),
        connectedAt: serverTime(row.answer_date),
        endedAt: serverTime(row.end_date),
        events: [],
    };
}

/**
 * The browser side of the CTI: the user's session state and calls, kept up to date from
 * the `cti_connector/event` bus notifications the service host sends, and the commands
 * (each a JSON route; outcomes come back as events).
 *
 * Components read `state` (reactive) and listen on `bus` for the reference event names
 * (`RINGING`, `ERROR`...) or `event` for all of them. A notification written before this
 * page was loaded (the bus hands a new tab the last 50 seconds again) still updates the
 * state, but comes with `replayed: true` in the event's detail: nothing pops for it.
 *
 * The message (`state.message`) is the latest problem: that of a failed command, or an
 * ERROR event. The next command that is accepted clears it, as the user can.
 *
 * `LOGGED` on `bus` says a finished call is in the call log and on the chatter of
 * `detail.records` (`[{model, id}]`), from the `cti_connector/logged` notification the
 * log lane sends once it has written them; replayed ones come with `replayed: true`.
 * `OPEN_SOFTPHONE` on `bus` asks the systray softphone to open its panel.
 */
export const ctiService = {
    dependencies: ["bus_service", "orm"],

    start(env, { bus_service, orm }) {
        // the last bus notification written when this page was served: anything up to it
        // happened before the user opened the page
        const loadedAfter = session.cti_bus_last_id || 0;
        const bus = new EventBus();
        const state = reactive({
            hasAccount: false,
            loggedIn: false,
            // the engine agent's state: logged_out, connecting, ready, reconnecting, failed
            status: "logged_out",
            message: "",
            extension: "",
            // call id -> the latest call object, with `since`, `connectedAt` and `events`
            // (the event names seen, in order)
            calls: {},
            history: [], // the last finished calls, newest first
            // extension -> {id, name} of the colleague (a user) it rings
            colleagues: {},
        });

        function addToHistory(call) {
            const others = state.history.filter((known) => known.id !== call.id);
            state.history = [call, ...others]
                .sort((a, b) => (b.endedAt || 0) - (a.endedAt || 0))
                .slice(0, HISTORY_SIZE);
        }

        function handle(payload, { replayed = false } = {}) {
            const { name, call } = payload;
            if (call) {
                if (FINAL_EVENTS.includes(name)) {
                    const known = state.calls[call.id];
                    delete state.calls[call.id];
                    const logged = state.history.some((past) => past.id === call.id);
                    // a replayed end knows only when it was replayed; the log knows better
                    if (!replayed || !logged) {
                        addToHistory({
                            ...known,
                            ...call,
                            events: [...(known?.events || []), name],
                            endedAt: Date.now(),
                        });
                    }
                } else {
                    const known = state.calls[call.id];
                    state.calls[call.id] = {
                        ...call,
                        events: [...(known?.events || []), name],
                        since: known?.since || Date.now(),
                        connectedAt:
                            known?.connectedAt || (name === "CONNECTED" ? Date.now() : null),
                    };
                }
            } else if (name === "READY") {
                Object.assign(state, { loggedIn: true, status: "ready", message: "" });
            } else if (name === "LOGGED_OUT") {
                Object.assign(state, { loggedIn: false, status: "logged_out", calls: {} });
            } else if (name === "LOGGED_IN") {
                Object.assign(state, { loggedIn: true, status: "connecting" });
            } else if (name === "ERROR") {
                if (!replayed) {
                    state.message = payload.message || "";
                }
                if (state.loggedIn) {
                    // a lost or refused connection: the service host knows what it does next
                    refresh();
                }
            }
            const detail = replayed ? { ...payload, replayed } : payload;
            bus.trigger(name, detail);
            bus.trigger("event", detail);
        }

        /**
         * A route's immediate ERROR is reported like an event, so callers see one stream;
         * with `ownError`, the caller shows it itself (next to what the user clicked) and
         * the panel does not repeat it. A command accepted clears the last problem.
         */
        async function command(route, params = {}, { ownError = false } = {}) {
            const result = await rpc(route, params);
            if (result?.name === "ERROR") {
                if (ownError) {
                    bus.trigger("ERROR", result);
                    bus.trigger("event", result);
                } else {
                    handle(result);
                }
            } else if (result?.queued) {
                state.message = "";
            }
            return result;
        }

        /**
         * A control on a call: only one its last event offers (`call.controls`, what works
         * for that call on this PBX and phone) goes to the server; any other is answered
         * here with an INFO, like the server would.
         */
        /** Why a control the call does not offer cannot be used: what to do instead. */
        function notOffered(name) {
            switch (name) {
                case "answer":
                    return _t("Your phone cannot be answered from Odoo: pick it up.");
                case "terminate":
                    return _t("This call cannot be ended from Odoo: hang up on your phone.");
                case "hold":
                    return _t("This call cannot be put on hold from Odoo: use your phone.");
                case "transfer":
                case "consult":
                    return _t("This call cannot be transferred from Odoo: use your phone.");
                default:
                    return _t("That is not possible for this call on your phone.");
            }
        }

        function control(name, route, params) {
            const call = state.calls[params.callId];
            if (call && !(call.controls || []).includes(name)) {
                const info = { name: "INFO", message: notOffered(name) };
                bus.trigger("INFO", info);
                bus.trigger("event", info);
                return Promise.resolve(info);
            }
            return command(route, params);
        }

        /** The user's last finished calls, from the call log: they outlive the page. */
        async function loadHistory() {
            const rows = await orm.searchRead(
                "cti.call",
                [
                    ["user_id", "=", user.userId],
                    ["end_date", "!=", false],
                ],
                HISTORY_FIELDS,
                { limit: HISTORY_SIZE, order: "end_date desc, id desc" }
            );
            // the log's times are the call's own; a replayed event only knows when it came
            for (const row of rows) {
                addToHistory(historyFromLog(row));
            }
        }

        async function refresh() {
            const status = await rpc("/cti/status");
            Object.assign(state, {
                hasAccount: status.hasAccount,
                loggedIn: status.loggedIn,
                status: status.state,
                extension: status.extension || "",
            });
            // the stored message is the last activity's, "Connected to the PBX." included:
            // only a session in trouble has something to say
            if (TROUBLE_STATES.includes(status.state) && status.message) {
                state.message = status.message;
            }
            return status;
        }

        // settled once the session's state is known (as soon as the page loads)
        let loaded = Promise.resolve();
        if (user.userId) {
            bus_service.subscribe("cti_connector/event", (payload, { id } = {}) =>
                handle(payload, { replayed: Boolean(id) && id <= loadedAfter })
            );
            bus_service.subscribe("cti_connector/logged", (payload, { id } = {}) => {
                const replayed = Boolean(id) && id <= loadedAfter;
                bus.trigger("LOGGED", replayed ? { ...payload, replayed } : payload);
            });
            bus_service.start();
            const refreshed = refresh();
            loaded = refreshed.catch(() => {});
            refreshed
                .then(async (status) => {
                    if (status.hasAccount) {
                        state.colleagues = await orm.call("res.users", "cti_colleagues", []);
                        await loadHistory();
                    }
                })
                .catch(() => {});
        }

        return {
            state,
            bus,
            loaded,
            refresh,
            /**
             * The colleague an extension rings, if any.
             * @param {string} number an extension (or any number)
             * @returns {{id: number, name: string, avatar: string}|null}
             */
            colleague(number) {
                const found = number && state.colleagues[number];
                return found
                    ? { ...found, avatar: `/web/image/res.users/${found.id}/avatar_128` }
                    : null;
            },
            login: async () => {
                const result = await command("/cti/login");
                if (result?.queued && state.status === "logged_out") {
                    Object.assign(state, { loggedIn: true, status: "connecting", message: "" });
                }
                return result;
            },
            logout: () => command("/cti/logout"),
            isConnected: () => state.status === "ready",
            /**
             * @param {string} destination
             * @param {{model: string, id: number}} [origin] the record the number is on
             * @param {{ownError: boolean}} [options] see `command`
             */
            call: (destination, origin, options) =>
                command("/cti/call", { destination, origin }, options),
            /**
             * Whether `name` ("answer", "terminate", "hold", "transfer", "consult",
             * "complete") works for the call now; hold covers resume.
             */
            can: (call, name) => Boolean(call?.controls?.includes(name)),
            answer: (callId) => control("answer", "/cti/answer", { callId }),
            terminate: (callId) => control("terminate", "/cti/terminate", { callId }),
            /**
             * @param {{askFirst: boolean}} [options] askFirst: call the target on a second
             *     line first, then `complete` that line or `terminate` it to go back
             */
            transfer: (callId, destination, { askFirst = false } = {}) =>
                control(askFirst ? "consult" : "transfer", "/cti/transfer", {
                    callId,
                    destination,
                    askFirst,
                }),
            complete: (callId) => control("complete", "/cti/complete", { callId }),
            hold: (callId) => control("hold", "/cti/hold", { callId }),
            resume: (callId) => control("hold", "/cti/resume", { callId }),
        };
    },
};

registry.category("services").add("cti", ctiService);
