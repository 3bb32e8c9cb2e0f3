// The Usage page: this month's WhatsApp sessions (24-hour conversations, what WhatsApp bills) against
// the restaurant's allowance, the days they opened on, and what happens once the allowance is used up.
// Reads `usage(month)`; saves with `updateUsageSettings`. Live: a new message may open a session and
// a usage notification says a threshold was crossed, so either re-reads the month shown (debounced).

export const Q_USAGE = `query Usage($month: String) {
  usage(month: $month) {
    month sessions allowance adjustedBy remaining percent limitAction nearLimitPercent nearLimit overLimit
    plan { name monthlySessions }
    adjustments { id sessions reason createdAt }
    daily { date sessions }
  }
}`;

export const M_USAGE_SETTINGS = `mutation UsageSettings($limitAction: UsageLimitAction, $nearLimitPercent: Int) {
  updateUsageSettings(limitAction: $limitAction, nearLimitPercent: $nearLimitPercent) {
    __typename
    ... on Usage { limitAction nearLimitPercent nearLimit overLimit }
    ... on ValidationError { message field }
    ... on ForbiddenError { message }
    ... on NotFoundError { message }
  }
}`;

export const Q_VIEWER = `query Viewer { viewer { isAdmin } }`;

export const Q_USAGE_OVERVIEW = `query UsageOverview($month: String, $nearLimitOnly: Boolean!, $first: Int!, $offset: Int!) {
  usageOverview(month: $month, nearLimitOnly: $nearLimitOnly, first: $first, offset: $offset) {
    totalCount
    nodes {
      restaurantId restaurantName month sessions allowance adjustedBy percent nearLimit overLimit
      plan { id name monthlySessions }
    }
  }
  plans { id name monthlySessions price currency }
}`;

export const M_CREATE_PLAN = `mutation CreatePlan($input: PlanInput!) {
  createPlan(input: $input) {
    __typename
    ... on Plan { id name monthlySessions price currency }
    ... on ValidationError { message field }
    ... on ForbiddenError { message }
    ... on NotFoundError { message }
  }
}`;

const USAGE_RESULT = `
    __typename
    ... on Usage { restaurantName month sessions allowance percent plan { name } }
    ... on ValidationError { message field }
    ... on ForbiddenError { message }
    ... on NotFoundError { message }`;

export const M_ASSIGN_PLAN = `mutation AssignPlan($restaurantId: ID!, $planId: ID) {
  assignPlan(restaurantId: $restaurantId, planId: $planId) {${USAGE_RESULT}
  }
}`;

export const M_ADJUST_ALLOWANCE = `mutation AdjustAllowance($restaurantId: ID!, $month: String!, $sessions: Int!, $reason: String!) {
  adjustAllowance(restaurantId: $restaurantId, month: $month, sessions: $sessions, reason: $reason) {${USAGE_RESULT}
  }
}`;

const ACTIONS = [
  ["WARN", "Only warn me", "The bot carries on as usual; you get a notification near and at the limit."],
  ["PAUSE_BOT_EXTRAS", "Pause the bot in new conversations",
    "Once the allowance is used up, the bot stays quiet in conversations that start afterwards: customers' "
    + "messages still arrive here for you to answer. Conversations already under way, order confirmations, "
    + "order updates and your own replies always go."],
];
const REFRESH_MS = 2000;

let current = null; // the mounted page: { refresh, month }

const number = (n) => new Intl.NumberFormat().format(n);

// A bar's filled part: its width set through CSSOM (the inbox's CSP refuses style attributes).
function fill(api, percent) {
  const span = api.el("span");
  span.style.width = `${Math.max(0, Math.min(100, percent))}%`;
  return span;
}

function monthLabel(month) {
  const [year, m] = month.split("-").map(Number);
  return new Intl.DateTimeFormat(undefined, { month: "long", year: "numeric", timeZone: "UTC" })
    .format(new Date(Date.UTC(year, m - 1, 1)));
}

function dayText(isoDate) {
  const [year, m, d] = isoDate.split("-").map(Number);
  return new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric", month: "short", timeZone: "UTC" })
    .format(new Date(Date.UTC(year, m - 1, d)));
}

function shiftMonth(month, by) {
  const [year, m] = month.split("-").map(Number);
  const next = new Date(Date.UTC(year, m - 1 + by, 1));
  return `${next.getUTCFullYear()}-${String(next.getUTCMonth() + 1).padStart(2, "0")}`;
}

function summary(api, usage) {
  const { el } = api;
  const title = `${monthLabel(usage.month)}`;
  if (usage.allowance === null) {
    return el("section", { class: "usage-summary", "aria-labelledby": "usage-summary-title" },
      el("h3", { id: "usage-summary-title", text: title }),
      el("p", { class: "usage-figure", text: `${number(usage.sessions)} sessions` }),
      el("p", { class: "muted", text: "No plan: there is no allowance to count against. An admin assigns plans." }));
  }
  const percent = usage.percent ?? 0;
  const bar = el("div", { class: "usage-bar", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100",
    "aria-valuenow": String(Math.min(100, percent)), "aria-labelledby": "usage-figure",
    "data-level": usage.overLimit ? "over" : usage.nearLimit ? "near" : "ok" },
  fill(api, percent));
  const planLine = [`Plan: ${usage.plan.name} (${number(usage.plan.monthlySessions)} a month)`];
  if (usage.adjustedBy) planLine.push(`${usage.adjustedBy > 0 ? "+" : "−"}${number(Math.abs(usage.adjustedBy))} adjusted this month`);
  return el("section", { class: "usage-summary", "aria-labelledby": "usage-summary-title" },
    el("h3", { id: "usage-summary-title", text: title }),
    el("p", { id: "usage-figure", class: "usage-figure",
      text: `${number(usage.sessions)} of ${number(usage.allowance)} sessions used (${percent}%)` }),
    bar,
    el("p", { class: "usage-remaining", text: `${number(usage.remaining)} remaining` }),
    el("p", { class: "muted", text: planLine.join(" · ") }),
    warning(api, usage),
    usage.adjustments.length ? el("details", { class: "usage-adjustments" },
      el("summary", { text: `Adjustments (${usage.adjustments.length})` }),
      el("ul", {}, usage.adjustments.map((a) => el("li", {},
        el("strong", { text: `${a.sessions > 0 ? "+" : "−"}${number(Math.abs(a.sessions))}` }),
        ` ${a.reason} · `,
        el("time", { datetime: a.createdAt, text: api.formatTime(a.createdAt, { withDay: true }) }))))) : null);
}

function warning(api, usage) {
  if (!usage.overLimit && !usage.nearLimit) return null;
  const pausing = usage.limitAction === "PAUSE_BOT_EXTRAS";
  const text = usage.overLimit
    ? `This month's allowance is used up. ${pausing
      ? "The bot stays quiet in new conversations until next month or until your allowance grows; answer them yourself."
      : "New conversations are over the allowance; the bot still answers them."}`
    : `This month's sessions have reached ${usage.percent}% of the allowance (you are warned from ${usage.nearLimitPercent}%).`;
  return api.el("p", { class: "usage-warning", role: "alert", "data-level": usage.overLimit ? "over" : "near", text });
}

// Today in the restaurant's time zone, as YYYY-MM-DD (the days after it are not shown).
function today(api) {
  try {
    return new Intl.DateTimeFormat("en-CA", { timeZone: api.timeZone() }).format(new Date());
  } catch {
    return new Date().toISOString().slice(0, 10);
  }
}

function daily(api, usage) {
  const { el } = api;
  const until = today(api);
  const days = usage.daily.filter((d) => d.date <= until);
  const most = Math.max(1, ...days.map((d) => d.sessions));
  return el("section", { class: "usage-daily", "aria-labelledby": "usage-daily-title" },
    el("h3", { id: "usage-daily-title", text: "Sessions by day" }),
    days.length ? null : el("p", { class: "muted", text: "This month has not started yet." }),
    days.length === 0 ? null : el("table", {},
      el("caption", { class: "visually-hidden", text: `Sessions opened each day of ${monthLabel(usage.month)}` }),
      el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "Day" }), el("th", { scope: "col", text: "Sessions" }),
        el("th", { scope: "col" }, el("span", { class: "visually-hidden", text: "Share of the busiest day" })))),
      el("tbody", {}, days.map((d) => el("tr", { "data-date": d.date },
        el("th", { scope: "row", text: dayText(d.date) }),
        el("td", { class: "number", text: number(d.sessions) }),
        el("td", { class: "usage-day-bar", "aria-hidden": "true" },
          fill(api, Math.round((100 * d.sessions) / most))))))));
}

function settingsForm(api, usage, onSaved) {
  const { el } = api;
  const status = el("p", { class: "usage-settings-status", role: "status", "aria-live": "polite" });
  const percent = el("input", { id: "usage-near-percent", type: "number", min: "1", max: "100", step: "1",
    value: String(usage.nearLimitPercent), required: true });
  const form = el("form", { class: "usage-settings", "aria-labelledby": "usage-settings-title" },
    el("h3", { id: "usage-settings-title", text: "At the limit" }),
    el("fieldset", {},
      el("legend", { text: "When this month's allowance is used up" }),
      ACTIONS.map(([value, label, help]) => el("label", { class: "usage-choice" },
        el("input", { type: "radio", name: "usage-limit-action", value, checked: usage.limitAction === value }),
        el("span", {}, el("strong", { text: label }), el("span", { class: "muted", text: help }))))),
    el("p", {},
      el("label", { for: "usage-near-percent", text: "Warn me from (% of the allowance)" }), " ", percent),
    el("button", { type: "submit", text: "Save" }),
    status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    status.textContent = "Saving…";
    try {
      const chosen = form.querySelector("input[name=usage-limit-action]:checked")?.value ?? null;
      const data = await api.gql(M_USAGE_SETTINGS, { limitAction: chosen, nearLimitPercent: Number(percent.value) });
      const result = data.updateUsageSettings;
      if (result.__typename !== "Usage") {
        status.textContent = result.message;
        return;
      }
      status.textContent = "Saved.";
      api.announce("Usage settings saved");
      onSaved();
    } catch (e) {
      status.textContent = e.message;
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

// Admins only (the viewer's token says so): every restaurant's month, fullest first, with the plan
// and the allowance; per restaurant, put it on a plan or add sessions to its month; and new plans.
const OVERVIEW_PAGE = 50;

function usedText(row) {
  return row.allowance === null ? `${number(row.sessions)} / no plan` : `${number(row.sessions)} / ${number(row.allowance)}`;
}

function marker(api, row) {
  if (row.overLimit) return api.el("span", { class: "marker usage-marker", "data-level": "over", text: "Over the limit" });
  if (row.nearLimit) return api.el("span", { class: "marker usage-marker", "data-level": "near", text: "Near the limit" });
  return null;
}

// The result of a mutation: its Usage/Plan, or the error it returned, shown in `alert`.
function failed(result, typename, alert) {
  if (result.__typename === typename) return false;
  alert.textContent = result.message ?? "That did not work.";
  return true;
}

function adminSection(api, page) {
  const { el } = api;
  const state = { offset: 0, nearOnly: false, rows: [], plans: [], chosen: null, loads: 0 };
  const status = el("p", { class: "usage-admin-status", role: "status", "aria-live": "polite" }); // results
  const count = el("p", { class: "usage-admin-count", role: "status", "aria-live": "polite" });
  const alert = el("p", { class: "error usage-admin-error", role: "alert" });
  const nearOnly = el("input", { id: "usage-admin-near", type: "checkbox" });
  const table = el("div", { class: "usage-admin-table", role: "region",
    "aria-label": "Every restaurant's sessions (scrolls sideways)", tabindex: "0" });
  const pager = el("div", { class: "usage-admin-pager" });
  const manage = el("div", { class: "usage-admin-manage" });
  const plansSlot = el("div", { class: "usage-plans" });
  const section = el("section", { class: "usage-admin", "aria-labelledby": "usage-admin-title" },
    el("h3", { id: "usage-admin-title", text: "All restaurants" }),
    el("p", { class: "usage-admin-filter" }, nearOnly, " ",
      el("label", { for: "usage-admin-near", text: "Near the limit only" })),
    count, alert, status, table, pager, manage, plansSlot);
  nearOnly.addEventListener("change", () => {
    state.nearOnly = nearOnly.checked;
    state.offset = 0;
    load();
  });

  async function load({ quiet = false } = {}) {
    const mine = ++state.loads;
    if (!quiet) section.setAttribute("aria-busy", "true");
    try {
      const data = await api.gql(Q_USAGE_OVERVIEW, { month: page.month, nearLimitOnly: state.nearOnly,
        first: OVERVIEW_PAGE, offset: state.offset });
      if (mine !== state.loads) return;
      const { totalCount, nodes } = data.usageOverview;
      state.rows = nodes;
      state.plans = data.plans;
      if (!quiet) alert.textContent = "";
      table.replaceChildren(overviewTable(nodes));
      pager.replaceChildren(...pagerControls(totalCount, nodes.length));
      count.textContent = totalCount === 0
        ? (state.nearOnly ? "No restaurant is near its limit." : "No restaurants yet.")
        : `${number(totalCount)} ${totalCount === 1 ? "restaurant" : "restaurants"}${state.nearOnly ? " near the limit" : ""}`;
      renderManage();
      if (!plansSlot.firstChild) plansSlot.append(plansForm());
      renderPlans();
    } catch (e) {
      if (mine === state.loads) alert.textContent = e.message;
    } finally {
      if (mine === state.loads) section.setAttribute("aria-busy", "false");
    }
  }

  function overviewTable(rows) {
    if (!rows.length) return el("p", { class: "muted", text: "Nothing to show." });
    return el("table", {},
      el("caption", { class: "visually-hidden", text: `Every restaurant's sessions in ${monthLabel(page.month)}, fullest first` }),
      el("thead", {}, el("tr", {},
        ["Restaurant", "Plan", "Sessions / allowance", "Used", "State"].map((t) => el("th", { scope: "col", text: t })),
        el("th", { scope: "col" }, el("span", { class: "visually-hidden", text: "Actions" })))),
      el("tbody", {}, rows.map((row) => el("tr", { "data-restaurant": row.restaurantId },
        el("th", { scope: "row", text: row.restaurantName }),
        el("td", { text: row.plan ? row.plan.name : "No plan" }),
        el("td", { class: "number usage-admin-used", text: usedText(row) }),
        el("td", { class: "number usage-admin-percent", text: row.percent === null ? "–" : `${row.percent}%` }),
        el("td", {}, marker(api, row)),
        el("td", {}, el("button", { type: "button", class: "secondary", text: "Manage",
          "aria-label": `Manage ${row.restaurantName}`, "aria-expanded": String(state.chosen === row.restaurantId),
          onclick: () => choose(row.restaurantId) }))))));
  }

  function pagerControls(total, shown) {
    if (total <= OVERVIEW_PAGE) return [];
    const from = state.offset + 1;
    const to = state.offset + shown;
    const move = (by) => { state.offset = Math.max(0, state.offset + by); load(); };
    return [
      el("button", { type: "button", class: "secondary", text: "Previous", disabled: state.offset === 0,
        onclick: () => move(-OVERVIEW_PAGE) }),
      el("span", { text: `${number(from)}–${number(to)} of ${number(total)}` }),
      el("button", { type: "button", class: "secondary", text: "Next", disabled: to >= total,
        onclick: () => move(OVERVIEW_PAGE) }),
    ];
  }

  function choose(restaurantId) {
    state.chosen = state.chosen === restaurantId ? null : restaurantId;
    table.querySelectorAll("button[aria-expanded]").forEach((b) => {
      b.setAttribute("aria-expanded", String(b.closest("tr").dataset.restaurant === state.chosen));
    });
    manage.replaceChildren();
    renderManage();
    manage.querySelector("select")?.focus();
  }

  // The chosen restaurant's forms: made once per choice (a refresh never undoes an edit), its figure kept current.
  function renderManage() {
    const row = state.rows.find((r) => r.restaurantId === state.chosen);
    if (!row) {
      if (!state.chosen) manage.replaceChildren();
      return;
    }
    const existing = manage.querySelector(".usage-manage");
    if (existing && existing.dataset.restaurant === row.restaurantId && existing.dataset.month === page.month) {
      existing.querySelector(".usage-manage-figure").textContent = figureText(row);
      fillPlans(existing.querySelector("select"), row);
      return;
    }
    manage.replaceChildren(manageForms(row));
  }

  function figureText(row) {
    return `${row.restaurantName}: ${usedText(row)} sessions in ${monthLabel(row.month)}`
      + (row.adjustedBy ? ` (${row.adjustedBy > 0 ? "+" : "−"}${number(Math.abs(row.adjustedBy))} added)` : "");
  }

  function fillPlans(select, row) {
    const picked = select.dataset.touched ? select.value : (row.plan?.id ?? "");
    select.replaceChildren(el("option", { value: "", text: "No plan" }),
      ...state.plans.map((p) => el("option", { value: p.id, text: `${p.name} (${number(p.monthlySessions)} a month)` })));
    select.value = picked;
  }

  function manageForms(row) {
    const id = row.restaurantId;
    const formAlert = el("p", { class: "error", role: "alert" });
    const select = el("select", { id: `usage-plan-${id}` });
    select.addEventListener("change", () => { select.dataset.touched = "1"; });
    fillPlans(select, row);
    const assign = el("form", { class: "usage-manage-form" },
      el("label", { for: select.id, text: `Plan for ${row.restaurantName}` }), select,
      el("button", { type: "submit", text: "Assign plan" }));
    const sessions = el("input", { id: `usage-add-${id}`, type: "number", step: "1", required: true, inputmode: "numeric" });
    const reason = el("input", { id: `usage-reason-${id}`, type: "text", required: true, maxlength: "200" });
    const adjust = el("form", { class: "usage-manage-form" },
      el("label", { for: sessions.id, text: `Sessions to add in ${monthLabel(page.month)}` }), sessions,
      el("label", { for: reason.id, text: "Reason" }), reason,
      el("button", { type: "submit", text: "Add sessions" }));
    const name = row.restaurantName;
    submit(assign, formAlert, async () => {
      const planId = select.value || null;
      const result = (await api.gql(M_ASSIGN_PLAN, { restaurantId: id, planId })).assignPlan;
      if (failed(result, "Usage", formAlert)) return;
      delete select.dataset.touched;
      done(result.plan ? `${name} is now on ${result.plan.name}.` : `${name} has no plan now.`, id);
    });
    submit(adjust, formAlert, async () => {
      const count = Number(sessions.value);
      if (!Number.isInteger(count) || count === 0) {
        formAlert.textContent = "Enter a whole number of sessions (negative to take some away).";
        sessions.setAttribute("aria-invalid", "true");
        return;
      }
      sessions.removeAttribute("aria-invalid");
      const result = (await api.gql(M_ADJUST_ALLOWANCE,
        { restaurantId: id, month: page.month, sessions: count, reason: reason.value.trim() })).adjustAllowance;
      if (failed(result, "Usage", formAlert)) return;
      sessions.value = "";
      reason.value = "";
      done(`${count > 0 ? "Added" : "Took"} ${number(Math.abs(count))} sessions ${count > 0 ? "to" : "from"} ${name} `
        + `for ${monthLabel(result.month)}: ${usedText(result)}.`, id);
    });
    return el("section", { class: "usage-manage", "data-restaurant": id, "data-month": page.month, "aria-labelledby": `usage-manage-title-${id}` },
      el("h4", { id: `usage-manage-title-${id}`, text: `Manage ${name}` }),
      el("p", { class: "usage-manage-figure", text: figureText(row) }),
      formAlert, assign, adjust);
  }

  function submit(form, formAlert, action) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      formAlert.textContent = "";
      try {
        await action();
      } catch (e) {
        formAlert.textContent = e.message;
      } finally {
        button.disabled = false;
      }
    });
  }

  function done(text, restaurantId) {
    status.textContent = text;
    api.announce(text);
    if (restaurantId === api.restaurantId()) page.reload(); // its own figures change too, and this list with them
    else load({ quiet: true });
  }

  function renderPlans() {
    const list = plansSlot.querySelector(".usage-plan-list");
    if (!list) return;
    list.replaceChildren(...state.plans.map((p) => el("li", {},
      el("strong", { text: p.name }), ` · ${number(p.monthlySessions)} sessions a month · ${api.money(p.price, p.currency)}`)));
    if (!state.plans.length) list.append(el("li", { class: "muted", text: "No plans yet." }));
  }

  function plansForm() {
    const formAlert = el("p", { class: "error", role: "alert" });
    const field = (id, label, attrs) => el("p", { class: "usage-plan-field" },
      el("label", { for: id, text: label }), el("input", { id, required: true, ...attrs }));
    const form = el("form", { class: "usage-plan-form", "aria-labelledby": "usage-plan-new" },
      el("h4", { id: "usage-plan-new", text: "New plan" }),
      field("usage-plan-name", "Plan name", { type: "text", maxlength: "100" }),
      field("usage-plan-sessions", "Sessions a month", { type: "number", min: "0", step: "1", inputmode: "numeric" }),
      field("usage-plan-price", "Price a month (SAR)", { type: "number", min: "0", step: "0.01", inputmode: "decimal", value: "0" }),
      formAlert,
      el("button", { type: "submit", text: "Create plan" }));
    submit(form, formAlert, async () => {
      const value = (id) => form.querySelector(`#${id}`).value;
      const input = { name: value("usage-plan-name").trim(), monthlySessions: Number(value("usage-plan-sessions")),
        price: Math.round(Number(value("usage-plan-price")) * 100), currency: "SAR" };
      const result = (await api.gql(M_CREATE_PLAN, { input })).createPlan;
      if (failed(result, "Plan", formAlert)) return;
      form.reset();
      done(`Plan ${result.name} created (${number(result.monthlySessions)} sessions a month).`, null);
    });
    return el("section", { class: "usage-plans-inner", "aria-labelledby": "usage-plans-title" },
      el("h3", { id: "usage-plans-title", text: "Plans" }),
      el("ul", { class: "usage-plan-list" }), form);
  }

  return { section, load };
}

// Whether the token is an admin's: asked once per opening, never an error for anyone else.
async function isAdmin(api) {
  try {
    return (await api.gql(Q_VIEWER)).viewer.isAdmin;
  } catch {
    return false;
  }
}

async function mount(root, api) {
  const { el } = api;
  const picker = el("input", { id: "usage-month", type: "month", required: true });
  const body = el("div", { class: "usage-body", "aria-busy": "true" });
  const settings = el("div", { class: "usage-settings-slot" }); // made once: a refresh never undoes an edit
  const page = { month: null, timer: null, refresh: null, reload: null, admin: null, root };
  const go = (month) => {
    page.month = month;
    load();
  };
  const adminSlot = el("div", { class: "usage-admin-slot" });
  root.append(
    el("div", { class: "usage-toolbar" },
      el("button", { type: "button", class: "secondary", "aria-label": "Previous month", text: "‹",
        onclick: () => page.month && go(shiftMonth(page.month, -1)) }),
      el("label", { for: "usage-month", text: "Month" }), picker,
      el("button", { type: "button", class: "secondary", "aria-label": "Next month", text: "›",
        onclick: () => page.month && go(shiftMonth(page.month, 1)) })),
    body, settings, adminSlot);
  picker.addEventListener("change", () => {
    if (/^\d{4}-\d{2}$/.test(picker.value)) go(picker.value);
  });

  let loads = 0;
  async function load({ quiet = false } = {}) {
    const mine = ++loads;
    if (!quiet) body.setAttribute("aria-busy", "true");
    try {
      const data = await api.gql(Q_USAGE, { month: page.month });
      if (mine !== loads || current !== page) return; // a newer read, or the page was left
      const usage = data.usage;
      page.month = usage.month;
      picker.value = usage.month;
      body.replaceChildren(summary(api, usage), daily(api, usage));
      if (!settings.firstChild) settings.append(settingsForm(api, usage, () => load({ quiet: true })));
      page.admin?.load({ quiet });
    } catch (e) {
      if (mine !== loads) return;
      body.replaceChildren(el("p", { class: "error", role: "alert", text: e.message }));
    } finally {
      if (mine === loads) body.setAttribute("aria-busy", "false");
    }
  }
  page.refresh = () => {
    clearTimeout(page.timer);
    page.timer = setTimeout(() => {
      if (current === page && root.isConnected) load({ quiet: true });
    }, REFRESH_MS);
  };
  page.reload = () => load({ quiet: true });
  current = page;
  const [, admin] = await Promise.all([load(), isAdmin(api)]);
  if (admin && current === page) {
    page.admin = adminSection(api, page);
    adminSlot.append(page.admin.section);
    if (page.month) await page.admin.load();
  }
}

function onEvent(event) {
  if (!current) return;
  const usageNotice = event.__typename === "Notification" && String(event.kind).startsWith("USAGE_");
  if (usageNotice || event.__typename === "Message") current.refresh();
}

export default { id: "usage", title: "Usage", mount, onEvent };
