/** @odoo-module **/

import { EventBus, reactive } from "@odoo/owl";
import { rpc } from "@web/core/network/rpc";
import { registry } from "@web/core/registry";
import { user } from "@web/core/user";

const FINAL_EVENTS = ["HANGUP", "CANCEL"];
const HISTORY_SIZE = 10;
const TROUBLE_STATES = ["reconnecting", "failed"];

/**
 * The browser side of the CTI: the user's session state and calls, kept up to date from
 * the `cti_connector/event` bus notifications the service host sends, and the commands
 * (each a JSON route; outcomes come back as events).
 *
 * Components read `state` (reactive) and listen on `bus` for the reference event names
 * (`RINGING`, `ERROR`...) or `event` for all of them.
 */
export const ctiService = {
    dependencies: ["bus_service"],

    start(env, { bus_service }) {
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
        });

        function handle(payload) {
            const { name, call } = payload;
            if (call) {
                if (FINAL_EVENTS.includes(name)) {
                    const known = state.calls[call.id];
                    delete state.calls[call.id];
                    state.history.unshift({
                        ...known,
                        ...call,
                        events: [...(known?.events || []), name],
                        endedAt: Date.now(),
                    });
                    state.history.splice(HISTORY_SIZE);
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
                state.message = payload.message || "";
                if (state.loggedIn) {
                    // a lost or refused connection: the service host knows what it does next
                    refresh();
                }
            }
            bus.trigger(name, payload);
            bus.trigger("event", payload);
        }

        /** A route's immediate ERROR is reported like an event, so callers see one stream. */
        async function command(route, params = {}) {
            const result = await rpc(route, params);
            if (result && result.name === "ERROR") {
                handle(result);
            }
            return result;
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

        if (user.userId) {
            bus_service.subscribe("cti_connector/event", handle);
            bus_service.start();
            refresh();
        }

        return {
            state,
            bus,
            refresh,
            login: async () => {
                const result = await command("/cti/login");
                if (result?.queued && state.status === "logged_out") {
                    Object.assign(state, { loggedIn: true, status: "connecting", message: "" });
                }
                return result;
            },
            logout: () => command("/cti/logout"),
            isConnected: () => state.status === "ready",
            call: (destination, origin) => command("/cti/call", { destination, origin }),
            answer: (callId) => command("/cti/answer", { callId }),
            terminate: (callId) => command("/cti/terminate", { callId }),
            transfer: (callId, destination) =>
                command("/cti/transfer", { callId, destination }),
            hold: (callId) => command("/cti/hold", { callId }),
            resume: (callId) => command("/cti/resume", { callId }),
        };
    },
};

registry.category("services").add("cti", ctiService);
