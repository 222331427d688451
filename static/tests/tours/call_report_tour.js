/** @odoo-module **/

import { registry } from "@web/core/registry";

/*
 * The call report (CRM > Reporting > Calls) in its pivot view, on calls the test logged
 * through the same path as the CTI service: users in rows, counts and talk time in cells.
 */
registry.category("web_tour.tours").add("cti_connector_call_pivot", {
    url: "/odoo/action-cti_connector.action_cti_call_report",
    steps: () => [
        {
            content: "Switch the report to its pivot view",
            trigger: ".o_switch_view.o_pivot",
            run: "click",
        },
        {
            content: "Rows per user: the pivot shows the caller who made the calls",
            trigger: ".o_pivot .o_pivot_header_cell_closed:contains(Pivot Caller)",
        },
        {
            content: "Talk time: the two answered calls, 60 s and 30 s, as a duration",
            trigger: ".o_pivot td.o_pivot_cell_value:contains(1:30)",
        },
        {
            content: "Answer rate: two of the three calls",
            trigger: ".o_pivot td.o_pivot_cell_value:contains(67)",
        },
    ],
});
