/** @odoo-module **/

import { session } from "@web/session";

/*
 * The terms the web client shares with the server, defined once in Python
 * (cti_engine/vocabulary.py) and given to the page in its session info: call events,
 * session states (with their labels in the user's language), controls. Import them from
 * here; never write a copy of one of these lists.
 */
const vocabulary = session.cti_vocabulary || {};

/** Call events, in the order a call goes through them. */
export const CALL_EVENTS = vocabulary.callEvents || [];
/** The events that end a call. */
export const FINAL_EVENTS = vocabulary.finalEvents || [];
/** The events while a call has not been answered yet. */
export const RINGING_EVENTS = vocabulary.ringingEvents || [];
/** Events that are not about a call (LOGGED_IN, READY, INFO, ERROR...). */
export const ACTIVITY_EVENTS = vocabulary.activityEvents || [];
/** The states of the user's session, and how they read. */
export const SESSION_STATES = vocabulary.sessionStates || [];
export const SESSION_STATE_LABELS = vocabulary.sessionStateLabels || {};
/** Session states in which the session says why (its last error) until it is back. */
export const TROUBLE_STATES = vocabulary.troubleStates || [];
/** The keys of the reference's call object, in its order (Cti.Connector's calls have all). */
export const REFERENCE_CALL_KEYS = vocabulary.referenceCallKeys || [];
/** What a call may offer in `call.controls`. */
export const CONTROLS = vocabulary.controls || [];
/** Outcomes of the call log (cti.call's status) of a call that was talked on. */
export const TALKED_STATUSES = vocabulary.talkedStatuses || [];
/** How a call's `cause` reads, by cause in lower case (a cause not listed reads as it comes). */
export const CAUSE_LABELS = vocabulary.causeLabels || {};
