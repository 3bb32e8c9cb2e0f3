// Orders (issue #16): the order history with its filters, the period's KPIs, alerts (late against the
// kitchen's preparation time, awaiting payment) with "Mark paid", finished orders with their rating,
// "Load more" by cursor, and each order's conversation. Live: an order event reloads what is shown.

const ORDER_FIELDS = `id reference conversationId customerName customerPhone orderType paymentMethod status total
  currency createdAt paidAt alerts rating ratingComment branch { id nameEn }`;
const FILTERS = `$status: [OrderStatus!], $from: Date, $to: Date, $branchId: ID, $orderType: OrderType,
  $search: String`;
const FILTER_ARGS = `status: $status, from: $from, to: $to, branchId: $branchId, orderType: $orderType,
  search: $search`;

export const Q_ORDER_HISTORY = `query OrderHistory($first: Int!, $after: String, ${FILTERS}, $alert: OrderAlert) {
  orders(first: $first, after: $after, ${FILTER_ARGS}, alert: $alert) {
    totalCount pageInfo { hasNextPage endCursor } nodes { ${ORDER_FIELDS} }
  }
}`;
export const Q_ORDER_KPIS = `query OrderKpis(${FILTERS}) {
  orderKpis(${FILTER_ARGS}) { count revenue averageOrderValue currency }
}`;
export const Q_ORDER_SETUP = `query OrderSetup { menu { branches { id nameEn nameAr } } orderSettings { preparationMinutes } }`;
export const M_MARK_PAID = `mutation MarkOrderPaid($id: ID!) {
  markOrderPaid(id: $id) {
    __typename ... on Order { ${ORDER_FIELDS} } ... on NotFoundError { message } ... on ValidationError { message }
  }
}`;
export const M_ORDER_SETTINGS = `mutation UpdateOrderSettings($minutes: Int!) {
  updateOrderSettings(preparationMinutes: $minutes) {
    __typename ... on OrderSettings { preparationMinutes } ... on NotFoundError { message }
    ... on ValidationError { message }
  }
}`;

const PAGE = 50;
const MAX_PAGE = 200; // the server's largest page (app/services/pages.py)
const STATUSES = [
  ["CONFIRMED", "Confirmed"], ["PREPARING", "Preparing"], ["READY", "Ready"],
  ["OUT_FOR_DELIVERY", "Out for delivery"], ["DELIVERED", "Delivered"], ["CANCELLED", "Cancelled"],
];
const STATUS_WORD = Object.fromEntries(STATUSES);
const ALERT_WORD = { LATE: "Late", AWAITING_PAYMENT: "Awaiting payment" };

let view = null; // what the mounted page holds: { api, root, nodes, orders, endCursor, ... }

// The day (YYYY-MM-DD) `days` before today, in the restaurant's time zone.
function localDay(timeZone, days = 0) {
  const date = new Date(Date.now() - days * 86_400_000);
  try {
    return new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(date);
  } catch {
    return date.toISOString().slice(0, 10);
  }
}

function filters() {
  const form = view.nodes.form;
  const value = (name) => form.elements[name].value.trim() || null;
  const status = [...form.querySelectorAll('input[name="status"]:checked')].map((box) => box.value);
  return {
    status: status.length ? status : null,
    from: value("from"),
    to: value("to"),
    branchId: value("branchId"),
    orderType: value("orderType"),
    search: value("search"),
  };
}

function field(label, control) {
  return view.api.el("label", { class: "oh-field" }, view.api.el("span", { text: label }), control);
}

function buildForm(api, timeZone) {
  const { el } = api;
  const statuses = el("fieldset", { class: "oh-statuses" }, el("legend", { text: "Status" }),
    STATUSES.map(([value, label]) => el("label", {}, el("input", { type: "checkbox", name: "status", value }), ` ${label}`)));
  const form = el("form", { class: "oh-filters", "aria-label": "Filter orders" },
    statuses,
    field("From", el("input", { type: "date", name: "from", value: localDay(timeZone, 29) })),
    field("To", el("input", { type: "date", name: "to", value: localDay(timeZone) })),
    field("Branch", el("select", { name: "branchId" }, el("option", { value: "", text: "All branches" }))),
    field("Type", el("select", { name: "orderType" },
      el("option", { value: "", text: "Delivery and pickup" }),
      el("option", { value: "DELIVERY", text: "Delivery" }),
      el("option", { value: "PICKUP", text: "Pickup" }))),
    field("Needs a look", el("select", { name: "alert" },
      el("option", { value: "", text: "Every order" }),
      el("option", { value: "LATE", text: "Late" }),
      el("option", { value: "AWAITING_PAYMENT", text: "Awaiting payment" }))),
    field("Search orders", el("input", { type: "search", name: "search", maxlength: "200",
      placeholder: "#1042, name or phone" })),
    el("button", { type: "submit", text: "Show orders" }));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    reload();
  });
  form.addEventListener("change", (event) => {
    if (event.target.name !== "search") reload();
  });
  return form;
}

function buildSettings(api) {
  const { el } = api;
  const input = el("input", { type: "number", name: "minutes", min: "1", max: "1440", required: true, inputmode: "numeric" });
  const note = el("span", { class: "oh-note", role: "status" });
  const form = el("form", { class: "oh-settings", "aria-label": "Preparation time" },
    field("Late after (minutes)", input), el("button", { type: "submit", class: "secondary", text: "Save" }), note);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    note.textContent = "";
    try {
      const data = await api.gql(M_ORDER_SETTINGS, { minutes: Number(input.value) });
      const result = data.updateOrderSettings;
      if (result.__typename !== "OrderSettings") throw new api.ApiError(result.message, result.__typename);
      note.textContent = `Orders still with the kitchen after ${result.preparationMinutes} minutes are late.`;
      reload();
    } catch (e) {
      note.textContent = e.message;
    }
  });
  return { form, input };
}

function kpi(label, value) {
  return view.api.el("div", { class: "oh-kpi" }, view.api.el("dt", { text: label }), view.api.el("dd", { text: value }));
}

function renderKpis(kpis, total) {
  const { money } = view.api;
  view.nodes.kpis.replaceChildren(
    kpi("Orders (not cancelled)", String(kpis.count)),
    kpi("Revenue", money(kpis.revenue, kpis.currency)),
    kpi("Average order", money(kpis.averageOrderValue, kpis.currency)),
    kpi("Listed", String(total)),
  );
}

function orderItem(order) {
  const { el, money, formatTime } = view.api;
  const finished = order.status === "DELIVERED" || order.status === "CANCELLED";
  const badges = order.alerts.map((alert) => el("span", { class: `oh-alert oh-${alert.toLowerCase()}`, text: ALERT_WORD[alert] }));
  if (order.paidAt) badges.push(el("span", { class: "oh-paid", text: `Paid ${formatTime(order.paidAt, { withDay: true })}` }));
  const who = order.customerName ? `${order.customerName} · ${order.customerPhone}` : order.customerPhone;
  const rating = order.rating
    ? el("p", { class: "oh-rating" },
      el("span", { "aria-label": `Rated ${order.rating} of 5`, text: "★".repeat(order.rating) + "☆".repeat(5 - order.rating) }),
      order.ratingComment ? el("q", { text: order.ratingComment }) : null)
    : finished && order.status === "DELIVERED" ? el("p", { class: "oh-rating muted", text: "Not rated yet" }) : null;
  const actions = el("div", { class: "oh-actions" },
    el("a", {
      href: `#conversation=${encodeURIComponent(order.conversationId)}`,
      text: "Open conversation",
      onclick: (event) => {
        event.preventDefault();
        view.api.openConversation(order.conversationId);
      },
    }),
    order.alerts.includes("AWAITING_PAYMENT")
      ? el("button", { type: "button", class: "secondary", text: "Mark paid",
        "aria-label": `Mark ${order.reference} paid`, onclick: (event) => markPaid(order, event.currentTarget) })
      : null);
  return el("li", { class: "oh-order", "data-id": order.id, "data-status": order.status },
    el("article", { "aria-label": `Order ${order.reference}` },
      el("header", {},
        el("strong", { class: "oh-ref", text: order.reference }),
        el("span", { class: `oh-status oh-${order.status.toLowerCase()}`, text: STATUS_WORD[order.status] ?? order.status }),
        ...badges,
        el("span", { class: "oh-total", text: money(order.total, order.currency) })),
      el("p", { class: "oh-meta" },
        el("time", { datetime: order.createdAt, text: formatTime(order.createdAt, { withDay: true }) }),
        ` · ${order.orderType === "PICKUP" ? "Pickup" : "Delivery"}`,
        order.branch ? ` · ${order.branch.nameEn}` : "",
        ` · ${order.paymentMethod === "ONLINE" ? "Online payment" : "Cash"}`),
      el("p", { class: "oh-customer", text: who }),
      rating,
      actions));
}

function renderList() {
  const { nodes, orders, hasNextPage, total } = view;
  nodes.list.replaceChildren(...orders.map(orderItem));
  nodes.empty.hidden = orders.length > 0;
  nodes.more.hidden = !hasNextPage;
  nodes.summary.textContent = `${orders.length} of ${total} orders shown`;
}

async function markPaid(order, button) {
  button.disabled = true;
  try {
    const data = await view.api.gql(M_MARK_PAID, { id: order.id });
    const result = data.markOrderPaid;
    if (result.__typename !== "Order") throw new view.api.ApiError(result.message, result.__typename);
    view.orders = view.orders.map((o) => (o.id === result.id ? result : o));
    renderList();
    view.api.announce(`${result.reference} marked paid`);
  } catch (e) {
    button.disabled = false;
    view.nodes.error.textContent = e.message;
  }
}

// Reads run one after another (a reload after "Load more" keeps the rows it added; "Load more" after
// a reload continues from its last row), each on the page that started it.
function queued(fn) {
  const mine = view;
  mine.busy = mine.busy.then(() => (view === mine ? fn(mine) : undefined)).catch((e) => {
    if (view === mine) mine.nodes.error.textContent = e.message;
  });
  return mine.busy;
}

// The first page (or as many rows as are shown, up to a page's maximum) and the KPIs, again.
function reload({ keep = false } = {}) {
  if (!view) return Promise.resolve();
  return queued(async (mine) => {
    const wanted = filters();
    const alert = mine.nodes.form.elements.alert.value || null;
    const first = keep ? Math.min(MAX_PAGE, Math.max(PAGE, mine.orders.length)) : PAGE;
    mine.nodes.error.textContent = "";
    mine.root.setAttribute("aria-busy", "true");
    try {
      const [history, totals] = await Promise.all([
        mine.api.gql(Q_ORDER_HISTORY, { ...wanted, alert, first }),
        mine.api.gql(Q_ORDER_KPIS, wanted),
      ]);
      if (view !== mine) return;
      mine.orders = history.orders.nodes;
      mine.total = history.orders.totalCount;
      mine.hasNextPage = history.orders.pageInfo.hasNextPage;
      mine.endCursor = history.orders.pageInfo.endCursor;
      renderKpis(totals.orderKpis, mine.total);
      renderList();
    } finally {
      mine.root.removeAttribute("aria-busy");
    }
  });
}

function loadMore() {
  view.nodes.more.disabled = true;
  return queued(async (mine) => {
    try {
      if (!mine.hasNextPage) return;
      const data = await mine.api.gql(Q_ORDER_HISTORY, {
        ...filters(), alert: mine.nodes.form.elements.alert.value || null, first: PAGE, after: mine.endCursor,
      });
      if (view !== mine) return;
      const known = new Set(mine.orders.map((o) => o.id));
      mine.orders = [...mine.orders, ...data.orders.nodes.filter((o) => !known.has(o.id))];
      mine.total = data.orders.totalCount;
      mine.hasNextPage = data.orders.pageInfo.hasNextPage;
      mine.endCursor = data.orders.pageInfo.endCursor;
      renderList();
      mine.api.announce(`${mine.orders.length} of ${mine.total} orders shown`);
    } finally {
      mine.nodes.more.disabled = false;
    }
  });
}

export default {
  id: "orders",
  title: "Orders",
  async mount(root, api) {
    const { el } = api;
    const timeZone = api.timeZone();
    view = {
      api, root, orders: [], total: 0, hasNextPage: false, endCursor: null, refresh: null, busy: Promise.resolve(),
    };
    const form = buildForm(api, timeZone);
    const settings = buildSettings(api);
    view.nodes = {
      form,
      kpis: el("dl", { class: "oh-kpis" }),
      summary: el("p", { class: "oh-summary", role: "status" }),
      error: el("p", { class: "error", role: "alert" }),
      list: el("ol", { class: "oh-list", "aria-label": "Orders" }),
      empty: el("p", { class: "empty", text: "No orders match these filters.", hidden: true }),
      more: el("button", { type: "button", class: "secondary", text: "Load more", hidden: true, onclick: loadMore }),
    };
    const n = view.nodes;
    root.replaceChildren(
      el("section", { class: "order-history", "aria-labelledby": "oh-filters-title" },
        el("h3", { id: "oh-filters-title", class: "visually-hidden", text: "Filters" }), form, settings.form),
      el("section", { "aria-labelledby": "oh-kpis-title" },
        el("h3", { id: "oh-kpis-title", text: "The period's totals" }), n.kpis),
      el("section", { "aria-labelledby": "oh-list-title" },
        el("h3", { id: "oh-list-title", text: "History" }), n.summary, n.error, n.list, n.empty, n.more),
    );
    const mine = view;
    const setup = api.gql(Q_ORDER_SETUP).then((data) => {
      if (view !== mine) return;
      settings.input.value = String(data.orderSettings.preparationMinutes);
      const select = form.elements.branchId;
      for (const branch of data.menu.branches) select.append(el("option", { value: branch.id, text: branch.nameEn }));
    }).catch((e) => { n.error.textContent = e.message; });
    // An order becomes late with time alone: read again each minute while the page is shown.
    const tick = setInterval(() => {
      if (view !== mine) clearInterval(tick);
      else if (root.offsetParent !== null && !document.hidden) reload({ keep: true });
    }, 60_000);
    await Promise.all([setup, reload()]);
  },
  onEvent(event) {
    // Orders change; the restaurant's preparation time decides which are late.
    if (!view || (event.__typename !== "Order" && event.__typename !== "Restaurant")) return;
    clearTimeout(view.refresh); // a burst of changes is one read
    view.refresh = setTimeout(() => reload({ keep: true }), 300);
  },
};
