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

async function mount(root, api) {
  const { el } = api;
  const picker = el("input", { id: "usage-month", type: "month", required: true });
  const body = el("div", { class: "usage-body", "aria-busy": "true" });
  const settings = el("div", { class: "usage-settings-slot" }); // made once: a refresh never undoes an edit
  const page = { month: null, timer: null, refresh: null, root };
  const go = (month) => {
    page.month = month;
    load();
  };
  root.append(
    el("div", { class: "usage-toolbar" },
      el("button", { type: "button", class: "secondary", "aria-label": "Previous month", text: "‹",
        onclick: () => page.month && go(shiftMonth(page.month, -1)) }),
      el("label", { for: "usage-month", text: "Month" }), picker,
      el("button", { type: "button", class: "secondary", "aria-label": "Next month", text: "›",
        onclick: () => page.month && go(shiftMonth(page.month, 1)) })),
    body, settings);
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
  current = page;
  await load();
}

function onEvent(event) {
  if (!current) return;
  const usageNotice = event.__typename === "Notification" && String(event.kind).startsWith("USAGE_");
  if (usageNotice || event.__typename === "Message") current.refresh();
}

export default { id: "usage", title: "Usage", mount, onEvent };
