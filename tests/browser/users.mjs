// Scenario of a named user's login, run by scenario.mjs
// (node tests/browser/scenario.mjs operator URL --user NAME --secret S --node thermometer).
//
// operator: the login form proposes the user "admin"; signed in as NAME (an
// operator), the registry lists the nodes, its enable and disable buttons
// are hidden, and NODE's command forms are enabled: it sends calibrate
// offset=0.5 and shows the node's answer.

/** Procedures that change the registry or the users: an operator's page must never send one. */
const ADMIN_ONLY = /\.hub\.(nodes\.(enable|disable|tag|untag|locate|forget)|users\.)/;

export const scenarios = {
  async operator(c, out, opts) {
    await c.connected();
    await c.page.click('[data-testid="open-registry"]');
    out.defaultUser = await c.page.inputValue('[data-testid="admin-user"]');
    await c.page.fill('[data-testid="admin-user"]', opts.user);
    await c.page.fill('[data-testid="admin-secret"]', opts.secret);
    await c.page.click('[data-testid="admin-login"]');
    out.role = await c.until("signed in", () => {
      const panel = document.querySelector('[data-testid="registry-panel"]');
      return panel.dataset.admin === "true" && panel.dataset.role;
    });
    out.status = await c.text("admin-status");

    await c.page.fill('[data-testid="registry-filter"]', opts.node);
    await c.page.click('[data-testid="registry-apply"]');
    await c.until(`the row of ${opts.node}`, (n) => document.querySelector('[data-testid="registry-panel"]').dataset.loading === "false"
      && document.querySelector(`[data-testid="registry-row"][data-node="${n}"]`), opts.node);
    await c.page.click(`[data-testid="registry-row"][data-node="${opts.node}"]`);
    out.sendEnabled = await c.until("the calibrate button enabled", () => {
      const send = document.querySelector('[data-testid="command-send-calibrate"]');
      return send && !send.disabled;
    });
    out.changeButtons = await c.page.evaluate(() => Object.fromEntries(["registry-enable", "registry-disable"].map(
      (id) => [id, document.querySelector(`[data-testid="${id}"]`).hidden])));
    await c.page.fill('[data-testid="command-calibrate-offset"]', "0.5");
    await c.page.click('[data-testid="command-send-calibrate"]');
    out.answer = await c.until("the node's answer", () => {
      const text = document.querySelector('[data-testid="command-result-calibrate"]').textContent;
      return text && text !== "…" ? text : null;
    });
    out.commands = c.calls.map((x) => x.procedure).filter((p) => p.endsWith(".command"));
    out.adminOnly = c.calls.map((x) => x.procedure).filter((p) => ADMIN_ONLY.test(p));
  },
};
