// Scenario of the alert bell and panel, run by scenario.mjs
// (node tests/browser/scenario.mjs alerts URL --hash alerts --secret S --operator NAME --operator-secret S).
//
// alerts: two pages. A stays anonymous with the alert panel open
// (#alerts); B opens the panel from the bell and logs in as admin with
// --secret. Both bells show the same count; then the scenario prints
// {"step": "watching"} and waits for a rule id on stdin: the test added
// that rule, which fires at once. Both bells count one more; A shows no ack
// or silence button, B does. B acknowledges the alert: A shows "acked by
// admin" (the time from B's click is measured) and both bells count one less.
// Then A signs in as the operator NAME: it gets the silence button, and its
// silence shows on B.

const ROW = '[data-testid="alert-row"]';

/** The bell's count once the page has read the alerts (and, if ``n`` is given, once it is ``n``). */
function bellAt(c, n = null) {
  return c.until(n === null ? "the bell's count" : `the bell at ${n}`, (want) => {
    const bell = document.querySelector('[data-testid="alert-bell"]');
    const known = bell.dataset.count !== undefined && !bell.classList.contains("unknown");
    return known && (want === null || bell.dataset.count === String(want)) ? bell.dataset.count : null;
  }, n).then(Number);
}

/** {id, severity, ackedBy, cells} of the alert of rule ``rule`` in the panel, once it fires. */
function firingRow(c, rule) {
  return c.until(`the alert of rule ${rule} firing in the panel`, (r) => {
    const row = document.querySelector(`[data-testid="alert-row"][data-rule="${r}"][data-state="firing"]`);
    return row ? { id: row.dataset.alert, severity: row.dataset.severity, ackedBy: row.dataset.ackedBy,
      cells: [...row.querySelectorAll("td")].map((td) => td.textContent) } : null;
  }, rule);
}

/** The buttons of the alert panel: {ack, silence} counts. */
function buttons(c) {
  return c.page.evaluate(() => ({
    ack: document.querySelectorAll('[data-testid="alert-ack"]').length,
    silence: document.querySelectorAll('[data-testid="alert-silence"]').length,
  }));
}

export const scenarios = {
  async alerts(c, out, opts) {
    const url = c.page.url().replace(/#.*$/, "");
    const other = await c.page.context().browser().newContext({ viewport: { width: 1500, height: 950 } });
    const b = new c.constructor(await other.newPage(), c.artifacts); // a second browser: its own session
    await b.open(url);
    await Promise.all([c.connected(), b.connected()]);
    out.panelFromHash = await c.until("the alert panel open from #alerts",
      () => !document.querySelector('[data-testid="alert-panel"]').hidden);
    await b.page.click('[data-testid="alert-bell"]');
    out.hashAfterBell = await b.until("the #alerts address", () => window.location.hash || null);
    await b.page.fill('[data-testid="admin-secret"]', opts.secret);
    await b.page.click('[data-testid="admin-login"]');
    await b.until("B logged in", () => document.querySelector('[data-testid="alert-panel"]').dataset.changer === "true");
    const before = await bellAt(c);
    out.before = [before, await bellAt(b, before)];

    opts.say({ step: "watching" });
    const rule = await opts.next(); // the test added this rule, which fires at once
    out.fired = [await bellAt(c, before + 1), await bellAt(b, before + 1)];
    out.rowA = await firingRow(c, rule);
    const rowB = await firingRow(b, rule);
    out.bellTitle = await c.page.getAttribute('[data-testid="alert-bell"]', "title");
    out.anonymousButtons = await buttons(c);
    out.adminButtons = await buttons(b);
    out.shotFiring = await c.shot("web-alerts-firing");

    const t0 = Date.now();
    await b.page.click(`${ROW}[data-alert="${rowB.id}"] [data-testid="alert-ack"]`);
    out.ackedSeenByA = await c.until("page A showing the acknowledgement", (id) => {
      const row = document.querySelector(`[data-testid="alert-row"][data-alert="${id}"]`);
      return row && row.dataset.ackedBy ? row.querySelector('[data-testid="alert-acked-by"]').textContent : null;
    }, rowB.id);
    out.ackMs = Date.now() - t0;
    out.afterAck = [await bellAt(c, before), await bellAt(b, before)];
    out.messageB = await b.text("alerts-message");
    out.adminButtonsAfterAck = await buttons(b);
    out.shotAcked = await b.shot("web-alerts-acked");

    // A signs in as the operator: the silence button shows (no ack: acknowledged); B sees the silence
    await c.page.fill('[data-testid="admin-user"]', opts.operator);
    await c.page.fill('[data-testid="admin-secret"]', opts["operator-secret"]);
    await c.page.click('[data-testid="admin-login"]');
    await c.until("A logged in as an operator", () => document.querySelector('[data-testid="alert-panel"]').dataset.changer === "true");
    out.operatorButtons = await buttons(c);
    await c.page.click(`${ROW}[data-alert="${rowB.id}"] [data-testid="alert-silence"]`);
    out.messageA = await c.until("the silence said", () => {
      const text = document.querySelector('[data-testid="alerts-message"]').textContent;
      return text.startsWith("silenced") ? text : null;
    });
    out.silencedSeenByB = await b.until("the silence on page B", (id) => {
      const row = document.querySelector(`[data-testid="alert-row"][data-alert="${id}"]`);
      return row && row.dataset.silenced === "true" ? row.querySelector("td").textContent : null;
    }, rowB.id);
    out.problemsB = b.problems;
  },
};
