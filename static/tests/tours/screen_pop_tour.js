/** @odoo-module **/

import { registry } from "@web/core/registry";

/**
 * Screen pop tours. The Python side (tests/test_screen_pop_tour.py) runs the lab PBX and
 * the CTI service host; when a tour logs RING_SIGNAL, SIPp calls the tour's user, so the
 * RINGING reaches this page through the real bus.
 */
const RING_SIGNAL = "cti_screen_pop_tour: ring";

function ring() {
    return {
        content: "Once the web client runs, the caller dials the user",
        trigger: ".o_main_navbar",
        run() {
            console.log(RING_SIGNAL);
        },
    };
}

function formOf(name) {
    return {
        content: `The form of ${name} opens`,
        trigger: `.o_form_view .o_field_widget[name='name'] input:value(${name})`,
        timeout: 30000,
    };
}

registry.category("web_tour.tours").add("cti_screen_pop_open_partner", {
    url: "/odoo",
    steps: () => [ring(), formOf("Erika Mustermann")],
});

registry.category("web_tour.tours").add("cti_screen_pop_two_tabs", {
    url: "/odoo",
    steps: () => [
        ring(),
        {
            content: "Wait for the call to end: by then every tab has had its chance to pop",
            trigger: ".o_main_navbar",
            async run() {
                const cti = odoo.__WOWL_DEBUG__.root.env.services.cti;
                for (let i = 0; i < 400 && !cti.state.history.length; i++) {
                    await new Promise((resolve) => setTimeout(resolve, 100));
                }
                if (!cti.state.history.length) {
                    throw new Error("The call never ended in this tab");
                }
            },
        },
    ],
});

registry.category("web_tour.tours").add("cti_screen_pop_create_contact", {
    url: "/odoo",
    steps: () => [
        ring(),
        {
            content:
                "An unknown number, as people write it: a notification offers to create the contact",
            trigger:
                ".o_cti_screen_pop_notification:contains(+49 40 555777 is not in your contacts) .o_notification_buttons button:contains(Create contact)",
            timeout: 30000,
            run: "click",
        },
        {
            content: "A new contact form with the caller's number",
            trigger: ".o_form_view .o_field_widget[name='phone'] input:value(+49 40 555777)",
        },
        {
            content: "Leave the new contact unsaved",
            trigger: ".o_form_view .o_form_button_cancel",
            run: "click",
        },
        {
            content: "The notification is gone",
            trigger: "body:not(:has(.o_cti_screen_pop_notification))",
        },
    ],
});

registry.category("web_tour.tours").add("cti_screen_pop_chooser", {
    url: "/odoo",
    steps: () => [
        ring(),
        {
            content: "Two contacts share the number: the user chooses",
            trigger: ".o_cti_screen_pop_chooser .o_cti_screen_pop_choice:contains(Schmidt GmbH)",
            timeout: 30000,
        },
        {
            trigger: ".o_cti_screen_pop_chooser .o_cti_screen_pop_choice:contains(Hans Schmidt)",
            run: "click",
        },
        formOf("Hans Schmidt"),
    ],
});

registry.category("web_tour.tours").add("cti_screen_pop_notify", {
    url: "/odoo",
    steps: () => [
        ring(),
        {
            content: "Preference 'notification only': a notification, no form",
            trigger:
                ".o_cti_screen_pop_notification:contains(Erika Mustermann) .o_notification_buttons button:contains(Open)",
            timeout: 30000,
        },
        {
            trigger: "body:not(:has(.o_form_view))",
        },
        {
            trigger: ".o_cti_screen_pop_notification .o_notification_buttons button:contains(Open)",
            run: "click",
        },
        formOf("Erika Mustermann"),
    ],
});
