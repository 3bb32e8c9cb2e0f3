// Settings: whether the restaurant takes orders now (the busy/closed switch), its profile, its weekly
// opening hours and the dates with their own hours (holidays). Times are the restaurant's
// (api.timeZone()); the bot tells customers when it opens from these.

const OPENING = `orderingState orderingStateUntil openStatus nextOpensAt closesAt closedNote acceptsOrdersWhenClosed`;
const PROFILE = `name description address phone logoUrl appLink`;
const SCHEDULE = `openingHours { weekday opens closes } openingExceptions { date closedAllDay opens closes note }`;
const RESULT = (fields) => `__typename ... on Restaurant { id ${fields} }
  ... on ValidationError { message field } ... on NotFoundError { message } ... on ForbiddenError { message }`;

export const Q_SETTINGS = `query Settings { restaurants { id timezone ${OPENING} ${PROFILE} ${SCHEDULE} } }`;
export const M_PROFILE = `mutation Profile($input: RestaurantProfileInput!) {
  updateRestaurantProfile(input: $input) { ${RESULT(`${OPENING} ${PROFILE}`)} } }`;
export const M_HOURS = `mutation Hours($hours: [OpeningIntervalInput!]!) {
  setOpeningHours(hours: $hours) { ${RESULT(`${OPENING} ${SCHEDULE}`)} } }`;
export const M_ADD = `mutation AddException($date: Date!, $opens: String, $closes: String, $note: String!) {
  addOpeningException(date: $date, opens: $opens, closes: $closes, note: $note) { ${RESULT(`${OPENING} ${SCHEDULE}`)} } }`;
export const M_REMOVE = `mutation RemoveException($date: Date!) {
  removeOpeningException(date: $date) { ${RESULT(`${OPENING} ${SCHEDULE}`)} } }`;
export const M_SWITCH = `mutation Switch($state: OrderingState!, $until: DateTime) {
  setOrderingState(state: $state, until: $until) { ${RESULT(OPENING)} } }`;

const DAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"];
const DAY_NAMES = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
const STATES = [
  ["OPEN", "Open", "follow the opening hours"],
  ["BUSY", "Busy", "take orders, warn customers of longer waits"],
  ["CLOSED", "Closed", "take no orders"],
];
const PROFILE_FIELDS = [
  ["name", "Name", "text"],
  ["description", "Description", "textarea"],
  ["address", "Address", "text"],
  ["phone", "Phone (E.164, e.g. +966501234567)", "tel"],
  ["logoUrl", "Logo URL", "url"],
  ["appLink", "App link", "url"],
];

let view = null; // { root, api, restaurant, status } while the page is shown

// A wall time in `timeZone` ("2026-12-08T09:00") as an ISO instant: the zone's offset at that moment.
function zonedIso(local, timeZone) {
  const wall = Date.parse(`${local}:00Z`);
  const offsetAt = (ms) => {
    const parts = Object.fromEntries(new Intl.DateTimeFormat("en-US", { timeZone, hourCycle: "h23",
      year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" })
      .formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
    const asUtc = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour, +parts.minute, +parts.second);
    return asUtc - ms;
  };
  let instant = wall - offsetAt(wall);
  instant = wall - offsetAt(instant);
  return new Date(instant).toISOString();
}

function statusLine(r, api) {
  const at = (iso) => api.formatTime(iso, { withDay: true });
  const note = r.closedNote ? ` (${r.closedNote})` : "";
  if (r.openStatus === "OPEN") return r.closesAt ? `Open now, until ${at(r.closesAt)}.` : "Open now.";
  if (r.openStatus === "BUSY") return "Busy: orders are taken with a warning of longer waits.";
  const when = r.nextOpensAt ? `opens ${at(r.nextOpensAt)}` : "no opening set";
  return `Closed now${note}: ${when}.`;
}

async function save(status, query, variables, form) {
  const { api } = view;
  for (const bad of form?.querySelectorAll("[aria-invalid]") ?? []) bad.removeAttribute("aria-invalid");
  status.className = "settings-status";
  status.textContent = "Saving…";
  let result;
  try {
    result = Object.values(await api.gql(query, variables))[0];
  } catch (e) {
    status.className = "settings-status error";
    status.textContent = e.message;
    return null;
  }
  if (result.__typename !== "Restaurant") {
    status.className = "settings-status error";
    status.textContent = result.message;
    const field = result.field && form?.querySelector(`[data-field="${result.field.split(".")[0]}"]`);
    if (field) {
      field.setAttribute("aria-invalid", "true");
      field.focus();
    }
    return null;
  }
  Object.assign(view.restaurant, result);
  status.textContent = "Saved.";
  api.announce("Settings saved");
  renderNow();
  return result;
}

function section(api, id, title, ...children) {
  return api.el("section", { class: "settings-section", "aria-labelledby": id },
    api.el("h3", { id, text: title }), ...children);
}

function renderNow() {
  if (!view) return;
  view.now.textContent = statusLine(view.restaurant, view.api);
  view.now.dataset.state = view.restaurant.openStatus.toLowerCase();
}

function switchSection(api, r) {
  const status = api.el("p", { class: "settings-status", role: "status" });
  const choices = STATES.map(([value, label, hint]) => api.el("label", { class: "choice" },
    api.el("input", { type: "radio", name: "ordering-state", value, checked: r.orderingState === value }),
    ` ${label} `, api.el("span", { class: "hint", text: `(${hint})` })));
  const until = api.el("input", { type: "datetime-local", id: "ordering-until", "data-field": "until" });
  if (r.orderingStateUntil) {
    const parts = new Intl.DateTimeFormat("en-CA", { timeZone: api.timeZone(), hourCycle: "h23", year: "numeric",
      month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" }).formatToParts(new Date(r.orderingStateUntil));
    const p = Object.fromEntries(parts.map((x) => [x.type, x.value]));
    until.value = `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}`;
  }
  const later = api.el("input", { type: "checkbox", id: "orders-later", checked: r.acceptsOrdersWhenClosed });
  const form = api.el("form", { class: "settings-form", novalidate: true },
    api.el("fieldset", {}, api.el("legend", { text: "Taking orders" }), ...choices),
    api.el("label", { for: "ordering-until", text: `Until (restaurant time, ${api.timeZone() ?? "local"}; empty: until changed)` }),
    until,
    api.el("label", { class: "choice" }, later,
      " Take orders while closed (prepared when the restaurant opens)"),
    api.el("div", { class: "form-actions" }, api.el("button", { type: "submit", text: "Save" })),
    status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const state = form.querySelector("input[name=ordering-state]:checked")?.value ?? "OPEN";
    const untilIso = until.value && state !== "OPEN" ? zonedIso(until.value, api.timeZone() ?? "UTC") : null;
    if (!(await save(status, M_SWITCH, { state, until: untilIso }, form))) return;
    if (later.checked !== view.restaurant.acceptsOrdersWhenClosed) {
      await save(status, M_PROFILE, { input: { acceptsOrdersWhenClosed: later.checked } }, form);
    }
  });
  return section(api, "settings-switch-title", "Taking orders now", form);
}

function profileSection(api, r) {
  const status = api.el("p", { class: "settings-status", role: "status" });
  const inputs = {};
  const rows = PROFILE_FIELDS.map(([key, label, type]) => {
    const id = `profile-${key}`;
    const input = type === "textarea"
      ? api.el("textarea", { id, rows: 3, "data-field": key })
      : api.el("input", { id, type, "data-field": key, autocomplete: "off" });
    input.value = r[key] ?? "";
    inputs[key] = input;
    return [api.el("label", { for: id, text: label }), input];
  });
  const form = api.el("form", { class: "settings-form", novalidate: true }, ...rows.flat(),
    api.el("div", { class: "form-actions" }, api.el("button", { type: "submit", text: "Save profile" })), status);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const input = Object.fromEntries(Object.entries(inputs).map(([key, node]) => [key, node.value]));
    if (!input.name.trim()) delete input.name; // the name can't be cleared
    save(status, M_PROFILE, { input }, form);
  });
  return section(api, "settings-profile-title", "Profile", form);
}

function hoursSection(api, r) {
  const status = api.el("p", { class: "settings-status", role: "status" });
  const days = DAYS.map((day, n) => {
    const list = api.el("ul", { class: "intervals" });
    const add = (opens = "09:00", closes = "17:00") => {
      const index = list.childElementCount + 1;
      const label = `${DAY_NAMES[n]} hours ${index}`;
      const li = api.el("li", { class: "interval" },
        api.el("input", { type: "time", value: opens, "aria-label": `${label}: opens`, "data-part": "opens" }),
        api.el("span", { "aria-hidden": "true", text: "–" }),
        api.el("input", { type: "time", value: closes, "aria-label": `${label}: closes`, "data-part": "closes" }),
        api.el("button", { type: "button", class: "secondary", text: "Remove", "aria-label": `Remove ${label}`,
          onclick: () => li.remove() }));
      list.append(li);
    };
    for (const interval of r.openingHours.filter((i) => i.weekday === day)) add(interval.opens, interval.closes);
    return api.el("div", { class: "day", "data-day": day },
      api.el("h4", { text: DAY_NAMES[n] }), list,
      api.el("button", { type: "button", class: "secondary", text: "Add hours", "aria-label": `Add hours on ${DAY_NAMES[n]}`,
        onclick: () => add() }));
  });
  const form = api.el("form", { class: "settings-form", novalidate: true, "data-field": "hours" },
    api.el("p", { class: "hint", text: "No hours at all: always open. A closing time at or before the opening "
      + "time is the next day (18:00–02:00 closes at 2 at night)." }),
    api.el("div", { class: "week" }, ...days),
    api.el("div", { class: "form-actions" }, api.el("button", { type: "submit", text: "Save hours" })), status);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const hours = [];
    for (const day of form.querySelectorAll(".day")) {
      for (const li of day.querySelectorAll(".interval")) {
        hours.push({ weekday: day.dataset.day, opens: li.querySelector("[data-part=opens]").value,
          closes: li.querySelector("[data-part=closes]").value });
      }
    }
    save(status, M_HOURS, { hours }, form);
  });
  return section(api, "settings-hours-title", "Opening hours", form);
}

function exceptionsSection(api, r) {
  const status = api.el("p", { class: "settings-status", role: "status" });
  const list = api.el("ul", { class: "exceptions", "aria-label": "Dates with their own hours" });
  const fill = (exceptions) => {
    list.replaceChildren(...exceptions.map((e) => api.el("li", { class: "exception" },
      api.el("span", { text: `${e.date}: ${e.closedAllDay ? "closed all day" : `${e.opens}–${e.closes}`}`
        + (e.note ? ` (${e.note})` : "") }),
      api.el("button", { type: "button", class: "secondary", text: "Remove", "aria-label": `Remove ${e.date}`,
        onclick: async () => {
          const saved = await save(status, M_REMOVE, { date: e.date });
          if (saved) fill(saved.openingExceptions);
        } }))));
    if (!exceptions.length) list.append(api.el("li", { class: "empty", text: "No dates with their own hours." }));
  };
  fill(r.openingExceptions);
  const date = api.el("input", { type: "date", id: "exception-date", required: true, "data-field": "date" });
  const closed = api.el("input", { type: "checkbox", id: "exception-closed", checked: true });
  const opens = api.el("input", { type: "time", id: "exception-opens", "data-field": "opens", disabled: true });
  const closes = api.el("input", { type: "time", id: "exception-closes", "data-field": "closes", disabled: true });
  const note = api.el("input", { type: "text", id: "exception-note", maxlength: 100, "data-field": "note",
    placeholder: "e.g. Eid" });
  closed.addEventListener("change", () => { opens.disabled = closes.disabled = closed.checked; });
  const form = api.el("form", { class: "settings-form", novalidate: true },
    api.el("label", { for: "exception-date", text: "Date" }), date,
    api.el("label", { class: "choice" }, closed, " Closed all day"),
    api.el("label", { for: "exception-opens", text: "Opens" }), opens,
    api.el("label", { for: "exception-closes", text: "Closes" }), closes,
    api.el("label", { for: "exception-note", text: "Note" }), note,
    api.el("div", { class: "form-actions" }, api.el("button", { type: "submit", text: "Add date" })), status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!date.value) {
      status.className = "settings-status error";
      status.textContent = "Choose a date.";
      date.setAttribute("aria-invalid", "true");
      date.focus();
      return;
    }
    const variables = { date: date.value, note: note.value,
      opens: closed.checked ? null : opens.value || null, closes: closed.checked ? null : closes.value || null };
    const saved = await save(status, M_ADD, variables, form);
    if (saved) fill(saved.openingExceptions);
  });
  return section(api, "settings-exceptions-title", "Holidays and special days", list, form);
}

async function mount(root, api) {
  view = null;
  const loading = api.el("p", { class: "empty", role: "status", text: "Loading settings…" });
  root.replaceChildren(loading);
  let restaurant;
  try {
    const { restaurants } = await api.gql(Q_SETTINGS);
    restaurant = restaurants.find((r) => r.id === api.restaurantId());
  } catch (e) {
    loading.className = "error";
    loading.setAttribute("role", "alert");
    loading.textContent = `Settings could not be read: ${e.message}`;
    return;
  }
  if (!restaurant) {
    loading.textContent = "This restaurant was not found.";
    return;
  }
  const now = api.el("p", { class: "settings-now", id: "settings-now", role: "status", "aria-live": "polite" });
  view = { root, api, restaurant, now };
  root.replaceChildren(now,
    api.el("div", { class: "settings" },
      switchSection(api, restaurant), profileSection(api, restaurant),
      hoursSection(api, restaurant), exceptionsSection(api, restaurant)));
  renderNow();
}

function onEvent(event) {
  if (!view || event.__typename !== "Restaurant" || event.id !== view.api.restaurantId()) return;
  for (const key of ["orderingState", "orderingStateUntil", "openStatus", "nextOpensAt", "closesAt", "closedNote"]) {
    if (key in event) view.restaurant[key] = event[key];
  }
  renderNow(); // the forms keep what staff are typing
}

export default { id: "settings", title: "Settings", mount, onEvent };
