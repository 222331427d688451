/** @odoo-module **/

import { registry } from "@web/core/registry";
import { pause, signal } from "@cti_connector/../tests/tours/utils/steps";

/*
 * A call as the user lives it on the record it is about (issue 17), started by
 * tests/test_live_call_ux_tour.py at a desktop and a phone size. No PBX: a step logging
 * "cti_tour:<action>" (utils/steps.js) asks the Python test to push call events, log a call
 * or take a screenshot.
 */

const BUS_TIMEOUT = 20000;

/** The element the user sees at the middle of `element`, or what covers it. */
function seenAt(element) {
    const box = element.getBoundingClientRect();
    return document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
}

/** A step failing when anything covers what `selectors` name (each must be on screen). */
function uncovered(content, selectors) {
    return {
        content,
        trigger: selectors[0],
        run() {
            for (const selector of selectors) {
                const element = document.querySelector(selector);
                const seen = element && seenAt(element);
                if (!seen || !(element.contains(seen) || seen.contains(element))) {
                    const what = seen ? seen.outerHTML.slice(0, 120) : "nothing";
                    throw new Error(`${selector} is covered by ${what}`);
                }
            }
        },
    };
}

function overlap(a, b) {
    const boxA = a.getBoundingClientRect();
    const boxB = b.getBoundingClientRect();
    return (
        boxA.left < boxB.right &&
        boxB.left < boxA.right &&
        boxA.top < boxB.bottom &&
        boxB.top < boxA.bottom
    );
}

function toggleSoftphone(content) {
    return {
        content,
        trigger: ".o_menu_systray .o_cti_softphone_toggler",
        run: "click",
    };
}

const FORM_NAME = ".o_form_view .o_field_widget[name=name] input";
const FORM_PHONE = ".o_form_view .o_field_widget[name=phone] input";
const CONTROL_PANEL = ".o_control_panel";
const CALLS_BUTTON = "button[name=action_view_cti_calls]";
const CHATTER_CALL = ".o-mail-Chatter .o-mail-Message:contains(talk time 0:06)";

registry.category("web_tour.tours").add("cti_ux_call_in_chatter", {
    steps: () => [
        {
            content: "Ada's form, with no call yet: no Calls button",
            trigger: `${FORM_NAME}:value(Ada Lovelace)`,
        },
        {
            content: "nor a call in the chatter",
            trigger: `body:not(:has(${CALLS_BUTTON})) .o_form_view:has(.o-mail-Chatter):not(:has(${CHATTER_CALL}))`,
        },
        {
            content: "This page, until the end (a reload would forget it)",
            trigger: "body",
            run: () => (window.ctiUxSamePage = true),
        },
        {
            content: "Go to Ada's phone: its buttons show",
            trigger: FORM_PHONE,
            run: "click",
        },
        {
            content: "Call Ada",
            trigger: ".o_form_view .o_field_widget[name=phone] .o_cti_call_button",
            run: "click",
        },
        signal("talk out-ada"),
        {
            content: "Talking to Ada",
            trigger: ".o_cti_softphone .o_cti_call[data-call-id=out-ada][data-status=CONNECTED]",
            timeout: BUS_TIMEOUT,
        },
        toggleSoftphone("Close the softphone: the form is what the user looks at"),
        { content: "The softphone is closed", trigger: "body:not(:has(.o_cti_softphone))" },
        signal("hang-up out-ada"),
        {
            content: "Hung up, the call is logged: it shows in the chatter, no reload",
            trigger: `${CHATTER_CALL}:contains(Outbound call to)`,
            timeout: BUS_TIMEOUT,
        },
        {
            content: "The page was not reloaded for it",
            trigger: "body",
            run() {
                if (!window.ctiUxSamePage) {
                    throw new Error("the page was reloaded");
                }
            },
        },
        {
            content: "Scroll to the call in the chatter",
            trigger: CHATTER_CALL,
            run() {
                this.anchor.scrollIntoView({ block: "center" });
            },
        },
        pause(300),
        signal("screenshot call_in_chatter"),
        {
            content: "Show the smart buttons (a phone keeps them behind a button)",
            trigger: ".o_form_view .o-form-buttonbox",
            run() {
                if (!document.querySelector(CALLS_BUTTON)) {
                    this.anchor.querySelector(".o_button_more")?.click();
                }
            },
        },
        {
            content: "The Calls button counts it",
            trigger: `${CALLS_BUTTON} .o_stat_value:contains(1)`,
        },
        {
            content: "Open the calls from the button",
            trigger: CALLS_BUTTON,
            run: "click",
        },
        {
            content: "Ada's call is there, 0:06 long",
            trigger: ".o_data_row:contains(Ada Lovelace):has(.o_cti_duration:contains(0:06))",
        },
    ],
});

registry.category("web_tour.tours").add("cti_ux_incoming_call_card", {
    steps: () => [
        { content: "The web client is up", trigger: ".o_main_navbar .o_cti_softphone_toggler" },
        pause(1500), // the colleagues are known once the CTI status is back
        signal("event RINGING pop-ada ada"),
        {
            content: "Ada calls: the screen pop opens her form",
            trigger: `${FORM_NAME}:value(Ada Lovelace)`,
            timeout: BUS_TIMEOUT,
        },
        {
            content: "A compact card says who calls, her number as people write it",
            trigger:
                ".o_cti_incoming_call_card[data-call-id=pop-ada][data-status=RINGING]:contains(Incoming call):contains(Ada Lovelace):contains(+1 415-555-0123)",
        },
        {
            content: "The softphone panel does not open over the form",
            trigger: "body:not(:has(.o_cti_softphone))",
        },
        pause(500), // the form's fields settled
        uncovered("The form's header, name and phone stay readable", [
            CONTROL_PANEL,
            FORM_NAME,
            FORM_PHONE,
        ]),
        uncovered("and the card's Answer button is not under anything", [
            ".o_cti_incoming_call_answer",
        ]),
        signal("screenshot incoming_call_card"),
        {
            content: "Answer from the card",
            trigger: ".o_cti_incoming_call_card[data-call-id=pop-ada] .o_cti_incoming_call_answer",
            run: "click",
        },
        signal("event CONNECTED pop-ada ada"),
        {
            content: "Connected: the card offers to hang up",
            trigger:
                ".o_cti_incoming_call_card[data-call-id=pop-ada][data-status=CONNECTED]:contains(Connected) .o_cti_incoming_call_hangup:contains(Hang up)",
            timeout: BUS_TIMEOUT,
        },
        {
            content: "Open the phone from the card, for hold and transfer",
            trigger: ".o_cti_incoming_call_card .o_cti_incoming_call_more",
            run: "click",
        },
        {
            content: "The softphone shows the call with its controls",
            trigger: ".o_cti_softphone .o_cti_call[data-call-id=pop-ada] .o_cti_hold",
        },
        {
            content: "and the card gives way to it",
            trigger: "body",
            run() {
                const card = document.querySelector(".o_cti_incoming_call");
                if (card && getComputedStyle(card).display !== "none") {
                    throw new Error("the card shows over the open softphone");
                }
            },
        },
        toggleSoftphone("Close the softphone"),
        {
            content: "The card is back",
            trigger: ".o_cti_incoming_call_card[data-call-id=pop-ada]",
        },
        {
            content: "Hang up from the card",
            trigger: ".o_cti_incoming_call_card .o_cti_incoming_call_hangup",
            run: "click",
        },
        signal("event HANGUP pop-ada ada"),
        {
            content: "The call is over: the card goes",
            trigger: "body:not(:has(.o_cti_incoming_call_card))",
            timeout: BUS_TIMEOUT,
        },
        signal("event RINGING pop-unknown unknown"),
        {
            content: "An unknown number calls: the pop names it as people write it",
            trigger:
                ".o_cti_screen_pop_notification:contains(Incoming call from +1 415-555-0199):contains(+1 415-555-0199 is not in your contacts.)",
            timeout: BUS_TIMEOUT,
        },
        {
            content: "never as the raw number",
            trigger: ".o_cti_screen_pop_notification:not(:contains(+14155550199))",
        },
        {
            content: "The card names the number alike",
            trigger:
                ".o_cti_incoming_call_card[data-call-id=pop-unknown] .o_cti_incoming_call_name:contains(+1 415-555-0199)",
        },
        {
            content: "The pop and the card do not cover each other",
            trigger: ".o_cti_screen_pop_notification",
            run() {
                const card = document.querySelector(".o_cti_incoming_call_card");
                if (overlap(this.anchor, card)) {
                    throw new Error("the screen pop covers the incoming call card");
                }
            },
        },
        uncovered("Create contact and Answer are both within reach", [
            ".o_cti_screen_pop_notification .o_notification_buttons button",
            ".o_cti_incoming_call_answer",
        ]),
        signal("screenshot unknown_caller"),
        signal("event CANCEL pop-unknown unknown"),
        {
            content: "The missed call's card goes",
            trigger: "body:not(:has(.o_cti_incoming_call_card))",
            timeout: BUS_TIMEOUT,
        },
    ],
});
