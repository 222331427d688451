/** @odoo-module **/

import { registry } from "@web/core/registry";
import { pause, signal } from "@cti_connector/../tests/tours/utils/steps";

/*
 * What a new user meets in the softphone (issue 17), started by
 * tests/test_softphone_ux_tour.py at a desktop and a phone size. No PBX: a step logging
 * "cti_tour:<action>" (utils/steps.js) asks the Python test to send a live call event or
 * take a screenshot.
 */

function openSoftphone() {
    return [
        {
            content: "Open the softphone",
            trigger: ".o_menu_systray .o_cti_softphone_toggler",
            run: "click",
        },
        { content: "The softphone is open and ready", trigger: ".o_cti_softphone[data-status=ready]" },
    ];
}

function closeSoftphone() {
    return [
        {
            content: "Close the softphone",
            trigger: ".o_menu_systray .o_cti_softphone_toggler",
            run: "click",
        },
        { content: "The softphone is closed", trigger: "body:not(:has(.o_cti_softphone))" },
    ];
}

function dial(number) {
    return [
        { content: `Type ${number}`, trigger: ".o_cti_dial_input", run: `edit ${number}` },
        { content: "Call", trigger: ".o_cti_dial_call", run: "click" },
    ];
}

function clickCallButton(field) {
    return [
        {
            content: `Go to the ${field}: its buttons show`,
            trigger: `.o_form_view .o_field_widget[name=${field}] input`,
            run: "click",
        },
        {
            content: `Click the call button beside the ${field}`,
            trigger: `.o_form_view .o_field_widget[name=${field}] .o_cti_call_button`,
            run: "click",
        },
    ];
}

registry.category("web_tour.tours").add("cti_ux_foreign_number", {
    steps: () => [
        {
            content: "The German company's national mobile number",
            trigger: ".o_form_view .o_field_widget[name=mobile] input:value(0151 23456789)",
        },
        ...clickCallButton("mobile"),
        pause(1500),
        {
            content: "No error: the number is read as German",
            trigger: "body:not(:has(.o_notification_manager .o_notification))",
        },
        ...openSoftphone(),
        {
            content: "No error in the softphone either",
            trigger: ".o_cti_softphone:not(:has(.o_cti_message))",
        },
        signal("screenshot foreign_number"),
    ],
});

registry.category("web_tour.tours").add("cti_ux_field_error_once", {
    steps: () => [
        ...clickCallButton("phone"),
        {
            content: "The error shows beside the number the user clicked",
            trigger: ".o_notification:contains(is not a phone number)",
        },
        signal("screenshot field_error"),
        ...openSoftphone(),
        {
            content: "and not a second time in the softphone",
            trigger: ".o_cti_softphone:not(:has(.o_cti_message))",
        },
    ],
});

registry.category("web_tour.tours").add("cti_ux_replayed_call", {
    steps: () => [
        { content: "The web client is up", trigger: ".o_main_navbar" },
        pause(3000), // the bus hands this new tab the last 50 seconds again
        {
            content: "A call that ended before the page was opened does not open the softphone",
            trigger: "body:not(:has(.o_cti_softphone))",
        },
        {
            content: "nor pop its caller",
            trigger: "body:not(:has(.o_cti_screen_pop_notification)):not(:has(.o_form_view))",
        },
        ...openSoftphone(),
        {
            content: "It is among the last calls, with its talk time from the call log",
            trigger:
                ".o_cti_softphone .o_cti_history_item[data-call-id=old-call]:contains(0:06)",
        },
        {
            content: "and not a current call",
            trigger: ".o_cti_softphone:not(:has(.o_cti_call))",
        },
        ...closeSoftphone(),
        signal("send RINGING live-call"),
        {
            content: "A live call shows in its incoming call card",
            trigger: ".o_cti_incoming_call_card[data-call-id=live-call][data-status=RINGING]",
            timeout: 20000,
        },
        ...openSoftphone(),
        {
            content: "and in the softphone",
            trigger: ".o_cti_softphone .o_cti_call[data-call-id=live-call][data-status=RINGING]",
        },
        signal("screenshot live_call"),
        signal("send CANCEL live-call"),
        {
            content: "The call ends: it joins the last calls",
            trigger: ".o_cti_softphone .o_cti_history_item[data-call-id=live-call]",
            timeout: 20000,
        },
    ],
});

registry.category("web_tour.tours").add("cti_ux_error_goes", {
    steps: () => [
        ...openSoftphone(),
        {
            content: "The Call button keeps its icon beside its label",
            trigger: ".o_cti_dial_call",
            run() {
                const icon = this.anchor.querySelector("i").getBoundingClientRect();
                const label = this.anchor.querySelector("span").getBoundingClientRect();
                const sideBySide = icon.right <= label.left + 1;
                const sameLine = icon.top < label.bottom && label.top < icon.bottom;
                if (!sideBySide || !sameLine) {
                    throw new Error(`Call button wraps: ${JSON.stringify({ icon, label })}`);
                }
            },
        },
        ...dial("call mom"),
        {
            content: "The error says why",
            trigger: ".o_cti_softphone .o_cti_message:contains(is not a phone number)",
        },
        signal("screenshot error_shown"),
        ...dial("1002"),
        {
            content: "The next call is placed: the error is gone",
            trigger: ".o_cti_softphone:not(:has(.o_cti_message))",
        },
        signal("screenshot error_gone"),
        ...dial("x"),
        {
            content: "Another error",
            trigger: ".o_cti_softphone .o_cti_message:contains(is not a phone number)",
        },
        {
            content: "The user dismisses it",
            trigger: ".o_cti_softphone .o_cti_message .btn-close",
            run: "click",
        },
        {
            content: "It is gone",
            trigger: ".o_cti_softphone:not(:has(.o_cti_message))",
        },
    ],
});

registry.category("web_tour.tours").add("cti_ux_last_calls", {
    steps: () => [
        ...openSoftphone(),
        {
            content: "The last calls come from the call log: the call to the company",
            trigger:
                ".o_cti_softphone .o_cti_history_item[data-call-id=logged-out]:contains(Spree Logistik GmbH):contains(0:06)",
        },
        {
            content: "and the missed call, with how it ended",
            trigger:
                ".o_cti_softphone .o_cti_history_item[data-call-id=logged-missed] .o_cti_history_status:contains(missed)",
        },
        signal("screenshot last_calls"),
        {
            content: "Call the missed caller back",
            trigger: ".o_cti_softphone .o_cti_history_item[data-call-id=logged-missed] .o_cti_redial",
            run: "click",
        },
        pause(1500),
        {
            content: "No error",
            trigger: ".o_cti_softphone:not(:has(.o_cti_message))",
        },
    ],
});

registry.category("web_tour.tours").add("cti_ux_call_log", {
    steps: () => [
        {
            content: "Talk time as a duration, not seconds",
            trigger: ".o_data_row:has(.o_cti_duration:contains(4:28)):contains(Spree Logistik GmbH)",
        },
        {
            content: "The number as people write it, the user's extension as their name",
            trigger:
                ".o_data_row:contains(+49 1512 3456789):has(td[name=source_label]:contains(Alice Ux))",
        },
        {
            content: "A colleague's extension is the colleague",
            trigger: ".o_data_row td[name=source_label]:contains(Bob Ux)",
        },
        {
            content: "One wording per cause",
            trigger: ".o_data_row:has(.o_cti_duration:contains(0:26)) td[name=end_reason]:contains(You hung up)",
        },
        {
            content: "The same cause from Odoo's Hang up reads the same",
            trigger: ".o_data_row:has(.o_cti_duration:contains(0:06)) td[name=end_reason]:contains(You hung up)",
        },
        {
            content: "The total talk time is a duration too",
            trigger: ".o_list_footer td:contains(5:00)",
        },
        signal("screenshot call_log"),
    ],
});

registry.category("web_tour.tours").add("cti_ux_colleague_calls", {
    steps: () => [
        { content: "The web client is up", trigger: ".o_main_navbar .o_cti_softphone_toggler" },
        pause(1500), // the colleagues are known once the CTI status is back
        signal("send RINGING bob-call 1002"),
        {
            content: "Bob calls: the incoming call card names him, with his picture",
            trigger:
                ".o_cti_incoming_call_card[data-call-id=bob-call]:has(img.o_cti_avatar) .o_cti_incoming_call_name:contains(Bob Ux)",
            timeout: 20000,
        },
        {
            content: "The pop says who is calling, and offers no contact to create",
            trigger:
                ".o_cti_screen_pop_colleague:contains(Incoming call from Bob Ux):not(:has(button:contains(Create contact)))",
            timeout: 20000,
        },
        signal("screenshot colleague_calls"),
        ...openSoftphone(),
        {
            content: "The softphone names him too, with his picture",
            trigger:
                ".o_cti_softphone .o_cti_call[data-call-id=bob-call]:has(img.o_cti_avatar) .o_cti_call_name:contains(Bob Ux)",
        },
        signal("send CANCEL bob-call 1002"),
        {
            content: "The missed call is Bob's among the last calls",
            trigger: ".o_cti_softphone .o_cti_history_item[data-call-id=bob-call]:contains(Bob Ux)",
            timeout: 20000,
        },
    ],
});
