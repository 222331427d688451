/** @odoo-module **/

const DB_NAME = "cti_connector";
const STORE = "screen_pop_claims";
const KEEP_MS = 24 * 60 * 60 * 1000;

/**
 * Which of the user's tabs handles a call: the first to claim it, across every tab of
 * this browser.
 *
 * Why not the bus's main tab (`multi_tab.isOnMainTab()`): the main tab is elected once
 * and stays main while it lives, so the pop would land in whichever tab was opened first,
 * often one left in the background while the user works in another.
 *
 * Why not a compare-and-set in localStorage: localStorage has no atomic read-modify-write
 * across tabs. Browsers keep a copy per renderer process and propagate writes
 * asynchronously, so two tabs can both read "unclaimed" and both pop.
 *
 * IndexedDB gives the atomic step: `add()` of an existing key fails with
 * ConstraintError, and readwrite transactions on one store run one after the other
 * across all tabs of the origin. So the first tab to commit its `add` owns the call and
 * every other tab's `add` fails. Tabs decide when to try (see the screen pop service)
 * so that a tab the user is looking at tries first. Claims are kept a day, pruned as
 * new ones are added.
 */

let database;

function openDatabase() {
    database ||= new Promise((resolve, reject) => {
        const request = window.indexedDB.open(DB_NAME, 1);
        request.onupgradeneeded = () => {
            const store = request.result.createObjectStore(STORE, { keyPath: "key" });
            store.createIndex("at", "at");
        };
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
        request.onblocked = () => reject(new Error("IndexedDB blocked"));
    });
    return database;
}

/**
 * @param {string} key what to claim, e.g. a database, user and call id
 * @returns {Promise<boolean>} whether this tab got it (false if another tab did first);
 *      rejected when IndexedDB is not available
 */
export async function claimOnce(key) {
    const db = await openDatabase();
    return new Promise((resolve, reject) => {
        const transaction = db.transaction(STORE, "readwrite");
        const store = transaction.objectStore(STORE);
        let claimed = false;
        const now = Date.now();
        const request = store.add({ key, at: now });
        request.onsuccess = () => {
            claimed = true;
        };
        request.onerror = (event) => {
            if (request.error?.name === "ConstraintError") {
                // Another tab has it: keep the transaction (and its pruning) going.
                event.preventDefault();
            }
        };
        const expired = store.index("at").openCursor(IDBKeyRange.upperBound(now - KEEP_MS));
        expired.onsuccess = () => {
            const cursor = expired.result;
            if (cursor) {
                cursor.delete();
                cursor.continue();
            }
        };
        transaction.oncomplete = () => resolve(claimed);
        transaction.onabort = () => reject(transaction.error);
    });
}

/** Whether this browser can coordinate tabs through {@link claimOnce}. */
export function canClaim() {
    return Boolean(window.indexedDB);
}
