// The report period of the Overview and Ratings pages: the last 7 or 30 days, or two dates, as days
// in the restaurant's time zone (the server counts them so; at most 366 days). Not a page itself.

const DAY_MS = 86_400_000;

// Today's date (YYYY-MM-DD) in the restaurant's time zone.
export function today(timeZone) {
  try {
    return new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" })
      .format(new Date());
  } catch {
    return new Date().toISOString().slice(0, 10);
  }
}

export function addDays(day, days) {
  return new Date(Date.parse(`${day}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
}

// A date of the period (YYYY-MM-DD, already the restaurant's day) as "1 Nov" or "Sunday 1 November".
export function shortDay(day, { long = false } = {}) {
  const options = long
    ? { weekday: "long", day: "numeric", month: "long", timeZone: "UTC" }
    : { day: "numeric", month: "short", timeZone: "UTC" };
  return new Intl.DateTimeFormat(undefined, options).format(new Date(`${day}T00:00:00Z`));
}

// The picker: "Last 7 days", "Last 30 days" and a custom from/to. `state` ({ preset, from, to }) is
// the page's own and survives re-mounts; `onChange(variables)` is called with { from, to } (null:
// the server's default, the last 30 days).
export function picker(api, state, onChange) {
  const { el } = api;
  const from = el("input", { type: "date", id: `${state.id}-from`, value: state.from ?? "", required: true });
  const to = el("input", { type: "date", id: `${state.id}-to`, value: state.to ?? "", required: true });
  const error = el("p", { class: "error", role: "alert" });
  const presets = [
    ["7", "Last 7 days"],
    ["30", "Last 30 days"],
    ["custom", "Custom dates"],
  ].map(([preset, label]) =>
    el("button", {
      type: "button",
      class: "secondary",
      "aria-pressed": String(state.preset === preset),
      "data-preset": preset,
      text: label,
      onclick: () => choose(preset),
    }),
  );
  const custom = el(
    "form",
    { class: "period-custom", hidden: state.preset !== "custom", onsubmit: submit },
    el("label", { for: from.id, text: "From" }),
    from,
    el("label", { for: to.id, text: "To" }),
    to,
    el("button", { type: "submit", text: "Show" }),
  );

  function press(preset) {
    state.preset = preset;
    for (const button of presets) button.setAttribute("aria-pressed", String(button.dataset.preset === preset));
    custom.hidden = preset !== "custom";
  }

  function choose(preset) {
    press(preset);
    error.textContent = "";
    if (preset === "custom") {
      from.focus();
      return;
    }
    const last = today(api.timeZone());
    const first = addDays(last, -(Number(preset) - 1));
    onChange({ from: first, to: last });
  }

  function submit(event) {
    event.preventDefault();
    if (!from.value || !to.value) {
      error.textContent = "Choose both dates.";
      return;
    }
    if (to.value < from.value) {
      error.textContent = "The last day can't be before the first.";
      return;
    }
    error.textContent = "";
    onChange({ from: from.value, to: to.value });
  }

  // The dates a read answered with (the server's days): the custom inputs start from them, unless
  // the owner is choosing dates there now (a read landing meanwhile must not undo their typing).
  function showing(first, last) {
    state.from = first;
    state.to = last;
    if (state.preset === "custom") return;
    from.value = first;
    to.value = last;
  }

  const node = el(
    "div",
    { class: "period", role: "group", "aria-label": "Period" },
    el("div", { class: "period-presets" }, presets),
    custom,
    error,
  );
  return { node, showing, error };
}

// Bars of a daily series, drawn with CSS (no chart library): each bar's length is set through the
// CSSOM (the page's policy refuses style attributes). The bars are decoration (aria-hidden); the
// same numbers are in a table under "Numbers per day" for screen readers and for copying.
export function dailyBars(api, { label, days, value, text, columns }) {
  const { el } = api;
  const highest = Math.max(1, ...days.map(value));
  const bars = el("ol", { class: "bars", "aria-hidden": "true" });
  for (const day of days) {
    const bar = el("span", { class: "bar" });
    bar.style.blockSize = `${(value(day) / highest) * 100}%`;
    bars.append(el("li", { title: `${shortDay(day.day)}: ${text(day)}` }, el("span", { class: "bar-track" }, bar),
      el("span", { class: "bar-label", text: shortDay(day.day) })));
  }
  const table = el(
    "table",
    { class: "report-table" },
    el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "Day" }), columns.map(([name]) => el("th", { scope: "col", text: name })))),
    el(
      "tbody",
      {},
      days.map((day) =>
        el("tr", {}, el("th", { scope: "row", text: shortDay(day.day, { long: true }) }), columns.map(([, cell]) => el("td", { text: cell(day) }))),
      ),
    ),
  );
  return el(
    "figure",
    { class: "chart" },
    el("figcaption", { text: label }),
    bars,
    el("details", {}, el("summary", { text: "Numbers per day" }), table),
  );
}
