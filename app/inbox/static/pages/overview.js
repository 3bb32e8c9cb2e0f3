// Overview (issue #16): what the restaurant is doing now (conversations, waiting customers, open
// orders, SLA breaches) and over a period (orders and revenue per day, average order value, median
// first staff response, top items, ratings), from the `overview` query. Days are the restaurant's.

import { dailyBars, picker } from "./period.js";

export const Q_OVERVIEW = `
  query Overview($from: Date, $to: Date) {
    overview(from: $from, to: $to, top: 10) {
      from to currency activeConversations waitingForStaff openOrders orders
      revenue { amount currency } averageOrderValue { amount currency }
      days { day orders revenue { amount currency } }
      medianFirstResponseSeconds
      sla { minutes breachesNow breaches }
      topItems { itemId nameAr nameEn quantity revenue { amount currency } }
      rating { average previousAverage trend }
    }
  }`;

export const M_UPDATE_INBOX_SETTINGS = `
  mutation UpdateInboxSettings($slaMinutes: Int!) {
    updateInboxSettings(slaMinutes: $slaMinutes) {
      __typename
      ... on InboxSettings { slaMinutes }
      ... on ValidationError { message field }
      ... on NotFoundError { message }
    }
  }`;

const state = { id: "overview-period", preset: "30", from: null, to: null };
let reads = 0; // the newest read wins: an older answer arriving late is dropped

function stars(value) {
  return value === null || value === undefined ? "–" : `${value.toFixed(1)} / 5`;
}

function trendText(trend) {
  if (trend === null || trend === undefined) return "no earlier ratings to compare";
  if (Math.abs(trend) < 0.05) return "same as the period before";
  return `${trend > 0 ? "up" : "down"} ${Math.abs(trend).toFixed(1)} on the period before`;
}

function tile(api, label, value, note) {
  const { el } = api;
  return el("div", { class: "kpi" }, el("dt", { text: label }), el("dd", {}, el("span", { class: "kpi-value", text: value }),
    note ? el("span", { class: "kpi-note", text: note }) : null));
}

function render(api, view, data) {
  const { el, money } = api;
  const o = data.overview;
  const cash = (m) => (m ? money(m.amount, m.currency) : "–");
  const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;
  view.replaceChildren(
    el("h3", { class: "report-heading", text: "Now" }),
    el("dl", { class: "kpis" },
      tile(api, "Active conversations", String(o.activeConversations)),
      tile(api, "Waiting for staff", String(o.waitingForStaff)),
      tile(api, "Open orders", String(o.openOrders)),
      tile(api, "Waiting too long", String(o.sla.breachesNow), `longer than ${o.sla.minutes} min`),
    ),
    el("h3", { class: "report-heading", text: `From ${o.from} to ${o.to}` }),
    el("dl", { class: "kpis" },
      tile(api, "Orders", String(o.orders), "cancelled ones not counted"),
      tile(api, "Revenue", cash(o.revenue)),
      tile(api, "Average order", cash(o.averageOrderValue)),
      tile(api, "Median first response", api.duration(o.medianFirstResponseSeconds), "staff replies"),
      tile(api, "SLA breaches", String(o.sla.breaches), `waits over ${o.sla.minutes} min`),
      tile(api, "Average rating", stars(o.rating.average), trendText(o.rating.trend)),
    ),
    dailyBars(api, {
      label: "Revenue per day",
      days: o.days,
      value: (d) => d.revenue.amount,
      text: (d) => `${plural(d.orders, "order", "orders")}, ${cash(d.revenue)}`,
      columns: [["Orders", (d) => String(d.orders)], ["Revenue", (d) => cash(d.revenue)]],
    }),
    el("h3", { class: "report-heading", id: "top-items-title", text: "Top items" }),
    o.topItems.length
      ? el("table", { class: "report-table", "aria-labelledby": "top-items-title" },
          el("thead", {}, el("tr", {}, ["Item", "Quantity", "Revenue"].map((t) => el("th", { scope: "col", text: t })))),
          el("tbody", {}, o.topItems.map((item) => el("tr", {},
            el("th", { scope: "row" }, el("span", { text: item.nameEn }), " ", el("span", { lang: "ar", dir: "rtl", class: "muted", text: item.nameAr })),
            el("td", { text: String(item.quantity) }),
            el("td", { text: cash(item.revenue) }))),
          ))
      : el("p", { class: "empty", text: "No orders in this period." }),
    slaForm(api, o.sla.minutes, view),
  );
}

function slaForm(api, minutes, view) {
  const { el } = api;
  const input = el("input", { type: "number", id: "sla-minutes", min: "1", max: "1440", step: "1", value: String(minutes), required: true });
  const status = el("p", { class: "form-status", role: "status" });
  async function save(event) {
    event.preventDefault();
    const button = event.submitter ?? null;
    if (button) button.disabled = true;
    status.textContent = "";
    try {
      const { updateInboxSettings: result } = await api.gql(M_UPDATE_INBOX_SETTINGS, { slaMinutes: Number(input.value) });
      if (result.__typename !== "InboxSettings") {
        status.textContent = result.message;
        status.classList.add("error");
        return;
      }
      api.announce(`Answer target saved: ${result.slaMinutes} minutes.`);
      await load(api, view);
    } catch (error) {
      status.textContent = error.message;
      status.classList.add("error");
    } finally {
      if (button) button.disabled = false;
    }
  }
  return el("form", { class: "sla-form", onsubmit: save },
    el("label", { for: input.id, text: "Answer customers within (minutes)" }),
    input,
    el("button", { type: "submit", class: "secondary", text: "Save" }),
    status,
  );
}

async function load(api, view, variables = { from: state.from, to: state.to }) {
  const read = ++reads;
  view.setAttribute("aria-busy", "true");
  try {
    const data = await api.gql(Q_OVERVIEW, variables);
    if (read !== reads) return;
    state.picker.showing(data.overview.from, data.overview.to);
    render(api, view, data);
  } catch (error) {
    if (read !== reads) return;
    view.replaceChildren(api.el("p", { class: "error", role: "alert", text: `The overview couldn't be read: ${error.message}` }));
  } finally {
    if (read === reads) view.removeAttribute("aria-busy");
  }
}

export default {
  id: "overview",
  title: "Overview",
  mount(root, api) {
    const view = api.el("div", { class: "report" }, api.el("p", { class: "empty", role: "status", text: "Loading…" }));
    Object.assign(state, { api, view });
    state.picker = picker(api, state, (variables) => load(api, view, variables));
    root.replaceChildren(state.picker.node, view);
    return load(api, view);
  },
  onEvent(entity) {
    // New orders and messages change the figures: read again, at most every few seconds.
    if (!state.api || !state.view) return;
    if (entity?.__typename !== "Order" && entity?.__typename !== "Conversation") return;
    clearTimeout(state.refresh);
    state.refresh = setTimeout(() => load(state.api, state.view), 3000);
  },
};
