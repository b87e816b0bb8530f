// Scenarios of the brewing panel, run by scenario.mjs (node tests/browser/scenario.mjs brewing URL --secret S).
//
// brewing: two pages of the panel. Page B stays a consumer: every change
// control is disabled, clicking them calls nothing, a wrong secret is
// refused. Page A logs in as admin with --secret (still logged in after a
// reload of the tab), sets the beer setpoint
// (prints {"step": "setpoint"} and waits for a line on stdin while the test
// reads the node's state and sets 20.4567: B's setpoint box reads it at its
// step, 20.5), raises a test alarm and acknowledges it; B sees
// the alarm listed, then acknowledged. A writes a profile and puts the
// chamber in profile mode; B sees both. A logs out.

const PANEL = '[data-testid="brewing-panel"]';
/** Procedures that change the node (the rest of the panel's calls are reads). */
const CHANGES = /\.consumer\.brewing\.(io\.(create|update|delete)|profiles\.(create|update|delete)|settings\.(set|delete)|control\.(setpoint|mode)|alarms\.(ack|ack_all|simulate)|sim\.set)$/;

/** Open the brewing panel on client ``c`` and wait for its chamber. */
async function openPanel(c) {
  await c.connected();
  await c.select("brewing");
  await c.until("the panel's chamber", () => document.querySelector('[data-testid="brew-chamber"]').value || null);
}

/** {testid: disabled} of the change controls of the panel. */
function adminControls(c) {
  return c.page.$$eval(`${PANEL} [data-admin]`, (xs) => Object.fromEntries(xs.map((x) => [x.dataset.testid, x.disabled])));
}

function loginState(c, state) {
  return c.until(`admin login state ${state}`,
    (s) => document.querySelector('[data-testid="admin-box"]').dataset.state === s, state);
}

export const scenarios = {
  async brewing(c, out, opts) {
    const url = c.page.url();
    const other = await c.page.context().browser().newContext({ viewport: { width: 1500, height: 950 } });
    const b = new c.constructor(await other.newPage(), c.artifacts); // a second browser: its own session storage
    await b.open(url);
    await Promise.all([openPanel(c), openPanel(b)]);

    // B, a consumer: read-only controls, clicking them calls nothing, a wrong secret is refused
    out.consumerControls = await adminControls(b);
    await b.page.$$eval(`${PANEL} button[data-admin]`, (buttons) => buttons.forEach((x) => x.click()));
    await b.page.fill('[data-testid="admin-secret"]', "not the secret");
    await b.page.click('[data-testid="admin-login"]');
    out.refused = await b.until("the refusal", () => {
      const status = document.querySelector('[data-testid="admin-status"]');
      return status.textContent.includes("refused") ? status.textContent : null;
    });
    out.controlsAfterRefusal = await adminControls(b);

    // A logs in and sets the beer setpoint
    await c.page.fill('[data-testid="admin-secret"]', opts.secret);
    await c.page.click('[data-testid="admin-login"]');
    await loginState(c, "in");
    await c.page.reload(); // the tab keeps the login: logged in again from sessionStorage
    await openPanel(c);
    await loginState(c, "in");
    out.adminControls = await adminControls(c);
    await c.page.fill('[data-testid="brew-setpoint"]', "20.5");
    await c.page.click('[data-testid="brew-set-setpoint"]');
    out.setpointShown = await c.until("beer setpoint 20.5 shown", () => {
      const text = document.querySelector('[data-testid="state-beerSet"]').textContent;
      return text.startsWith("20.5") ? text : null;
    });
    opts.say({ step: "setpoint" });
    await opts.next(); // the test read the node's state and set the setpoint to 20.4567 itself
    out.setpointB = await b.until("page B showing the setpoint 20.4567", () => {
      const text = document.querySelector('[data-testid="state-beerSet"]').textContent;
      return text.startsWith("20.46") ? document.querySelector('[data-testid="brew-setpoint"]').value : null;
    });

    // A writes a profile and sets the chamber to follow it
    await c.page.fill('[data-testid="profile-name"]', "browser_ale");
    await c.page.fill('[data-testid="profile-points"]', "0 18\n2 20.5");
    await c.page.click('[data-testid="profile-save"]');
    await c.until("the new profile offered for profile mode",
      () => [...document.querySelectorAll('[data-testid="brew-mode-profile"] option')].some((o) => o.value === "browser_ale"));
    await c.page.selectOption('[data-testid="brew-mode"]', "profile");
    await c.page.selectOption('[data-testid="brew-mode-profile"]', "browser_ale");
    await c.page.click('[data-testid="brew-set-mode"]');
    out.modeSeenByB = await b.until("profile mode on page B",
      () => (document.querySelector('[data-testid="state-mode"]').textContent === "profile" ? "profile" : null));
    out.profileSeenByB = await b.until("the profile in page B's editor", () => {
      const select = document.querySelector('[data-testid="profile-select"]');
      const found = [...select.options].find((o) => o.textContent === "browser_ale");
      if (!found) return null;
      select.value = found.value;
      select.dispatchEvent(new Event("change"));
      return document.querySelector('[data-testid="profile-points"]').value;
    });
    out.chartPointsB = await b.until("page B's chamber chart drawn",
      () => +document.querySelector('[data-testid="brew-chart"]').dataset.points || null);

    // A raises a test alarm; both pages list it; A acknowledges; B sees it acknowledged
    await c.page.click('[data-testid="alarms-simulate"]');
    const listed = (page) => page.until("the test alarm listed", () => {
      const rows = [...document.querySelectorAll('[data-testid="alarms-active"] tr[data-alarm]')];
      const row = rows.find((r) => r.textContent.includes("test alarm from the browser"));
      return row ? row.dataset.alarm : null;
    });
    const [id, seenByB] = await Promise.all([listed(c), listed(b)]);
    out.alarm = { id, seenByB };
    out.consumerAckDisabled = await b.page.$eval(`tr[data-alarm="${id}"] [data-testid="alarm-ack"]`, (x) => x.disabled);
    await c.page.click(`[data-testid="alarms-active"] tr[data-alarm="${id}"] [data-testid="alarm-ack"]`);
    out.ackedSeenByB = await b.until("the acknowledgement on page B", (i) => {
      const recent = document.querySelector(`[data-testid="alarms-recent"] tr[data-alarm="${i}"]`);
      const active = document.querySelector(`[data-testid="alarms-active"] tr[data-alarm="${i}"]`);
      return recent && recent.dataset.ackedBy && !active ? recent.dataset.ackedBy : null;
    }, id);
    out.shotA = await c.shot("web-brewing-admin");
    out.shotB = await b.shot("web-brewing-consumer");

    // A logs out: read-only again, the secret forgotten
    await c.page.click('[data-testid="admin-logout"]');
    await loginState(c, "out");
    out.controlsAfterLogout = await adminControls(c);
    out.storedAfterLogout = await c.page.evaluate(() => sessionStorage.length);
    out.changesByA = c.calls.map((x) => x.procedure).filter((p) => CHANGES.test(p));
    out.changesByB = b.calls.map((x) => x.procedure).filter((p) => CHANGES.test(p));
    out.problemsB = b.problems;
  },
};
