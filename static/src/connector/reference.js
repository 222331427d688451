/** @odoo-module **/

import { REFERENCE_CALL_KEYS } from "../core/vocabulary";

/*
 * The reference's constants, `Cti.log` and its call object, as VoIPstudio's CTI Connector
 * defines them (see connector.js for `Cti.Connector` and docs/javascript_api.rst).
 */

export const EVENT = Object.freeze({
    READY: "READY",
    LOGGED_IN: "LOGGED_IN",
    LOGGED_OUT: "LOGGED_OUT",
    TWO_FACTOR_AUTH: "TWO_FACTOR_AUTH",
    SUBSCRIBED: "SUBSCRIBED",
    INITIAL: "INITIAL",
    ACCEPTED: "ACCEPTED",
    RINGING: "RINGING",
    CONNECTED: "CONNECTED",
    ON_HOLD: "ON_HOLD",
    HANGUP: "HANGUP",
    CANCEL: "CANCEL",
    INFO: "INFO",
    ERROR: "ERROR",
});

export const DIRECTION = Object.freeze({ IN: "INBOUND", OUT: "OUTBOUND" });

/** Message types of the reference (its chat messages); no event of ours carries them. */
export const TYPE = Object.freeze({
    ERROR: "error",
    CHAT: "chat",
    HEADLINE: "headline",
    UNAVAILABLE: "unavailable",
});

export const CALL_STATUS = Object.freeze({
    INITIAL: "INITIAL",
    ACCEPTED: "ACCEPTED",
    RINGING: "RINGING",
    ON_HOLD: "ON_HOLD",
    CONNECTED: "CONNECTED",
    HANGUP: "HANGUP",
});

/** SIP response codes (or their patterns) by what they mean for a call. */
export const CALL_CODE = Object.freeze({
    RINGING: /^1\d{2}$/,
    ACCEPTED: 200,
    REDIRECTED: /^3\d{2}$/,
    NO_ANSWER: 487,
    UNREACHABLE: 408,
    NOT_FOUND: /^4\d{2}$/,
    REJECTED: /^[56]\d{2}$/,
});

// The softphone's bookkeeping on the calls of the `cti` service, not part of an event.
const CLIENT_KEYS = ["events", "since", "connectedAt", "endedAt"];

/** JSON of ``value``, an object met again (a cycle) left out, as the reference does. */
function stringify(value) {
    const seen = new WeakSet();
    return JSON.stringify(value, (key, item) => {
        if (typeof item === "object" && item !== null) {
            if (seen.has(item)) {
                return undefined;
            }
            seen.add(item);
        }
        return item;
    });
}

/** `Cti.log`: a message, or any value as JSON, on the console prefixed with "Cti: ". */
export function log(message) {
    if (window.console) {
        const text = typeof message === "string" ? message : stringify(message);
        console.info(`Cti: ${text}`);
    }
}

/** The reference call object: every reference key (empty when unknown), then our extras. */
export function referenceCall(call) {
    const result = {};
    for (const key of REFERENCE_CALL_KEYS) {
        result[key] = call[key] ?? "";
    }
    for (const [key, value] of Object.entries(call)) {
        if (!(key in result) && !CLIENT_KEYS.includes(key)) {
            result[key] = value;
        }
    }
    return result;
}
