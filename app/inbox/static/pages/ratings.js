// Ratings (issue #16): what customers said of their orders in a period (the day a rating was given,
// in the restaurant's time zone): the 1–5 distribution, average and shares, a timeline per day, and
// the reviews, filtered by stars and "only with comments", paged with "Load more".

import { dailyBars, picker } from "./period.js";

const REVIEW_FIELDS = `
  totalCount
  pageInfo { hasNextPage endCursor }
  nodes { orderId orderReference customerName customerPhone rating comment ratedAt }`;

export const Q_RATINGS = `
  query Ratings($from: Date, $to: Date, $ratings: [Int!], $withCommentOnly: Boolean = false) {
    ratings(from: $from, to: $to) {
      from to count average positiveShare negativeShare
      distribution { rating count }
      days { day count average }
      reviews(first: 20, ratings: $ratings, withCommentOnly: $withCommentOnly) { ${REVIEW_FIELDS} }
    }
  }`;

export const Q_MORE_REVIEWS = `
  query MoreReviews($from: Date, $to: Date, $after: String, $ratings: [Int!], $withCommentOnly: Boolean = false) {
    ratings(from: $from, to: $to) {
      reviews(first: 20, after: $after, ratings: $ratings, withCommentOnly: $withCommentOnly) { ${REVIEW_FIELDS} }
    }
  }`;

const state = { id: "ratings-period", preset: "30", from: null, to: null, stars: [], withCommentOnly: false };
let reads = 0;

const percent = (share) => (share === null || share === undefined ? "–" : `${Math.round(share * 100)}%`);
const starText = (n) => `${"★".repeat(n)}${"☆".repeat(5 - n)}`;

function filters() {
  return { ratings: state.stars.length ? state.stars : null, withCommentOnly: state.withCommentOnly };
}

function distribution(api, r) {
  const { el } = api;
  const highest = Math.max(1, ...r.distribution.map((d) => d.count));
  return el("figure", { class: "chart" },
    el("figcaption", { text: "Ratings by stars" }),
    el("ul", { class: "distribution" }, [...r.distribution].reverse().map((d) => {
      const bar = el("span", { class: "bar" });
      bar.style.inlineSize = `${(d.count / highest) * 100}%`;
      const share = r.count ? Math.round((d.count / r.count) * 100) : 0;
      return el("li", {},
        el("span", { class: "distribution-label", text: `${d.rating} ${d.rating === 1 ? "star" : "stars"}` }),
        el("span", { class: "bar-track", "aria-hidden": "true" }, bar),
        el("span", { class: "distribution-count", text: `${d.count} (${share}%)` }));
    })),
  );
}

function review(api, node) {
  const { el } = api;
  return el("li", { class: "review" },
    el("p", { class: "review-head" },
      el("span", { class: "review-stars", "aria-hidden": "true", text: starText(node.rating) }),
      el("span", { class: "visually-hidden", text: `${node.rating} out of 5` }),
      el("strong", { text: node.customerName || node.customerPhone }),
      el("span", { class: "muted", text: `order ${node.orderReference} · ${api.formatTime(node.ratedAt, { withDay: true })}` })),
    node.comment ? el("p", { class: "review-comment", dir: "auto", text: node.comment }) : el("p", { class: "muted", text: "No comment" }),
  );
}

function reviewsSection(api, reviews) {
  const { el } = api;
  const list = el("ul", { class: "reviews", "aria-labelledby": "reviews-title" });
  const count = el("p", { class: "muted", role: "status" });
  const more = el("button", { type: "button", class: "secondary more", text: "Load more" });
  let page = reviews;
  function show(connection, append) {
    page = connection;
    if (!append) list.replaceChildren();
    list.append(...connection.nodes.map((n) => review(api, n)));
    count.textContent = `${connection.totalCount} ${connection.totalCount === 1 ? "review" : "reviews"}`;
    more.hidden = !connection.pageInfo.hasNextPage;
    if (!connection.totalCount) list.replaceChildren(el("li", { class: "empty", text: "No reviews match these filters." }));
  }
  more.addEventListener("click", async () => {
    more.disabled = true;
    try {
      const data = await api.gql(Q_MORE_REVIEWS, { from: state.from, to: state.to, after: page.pageInfo.endCursor, ...filters() });
      const before = list.children.length;
      show(data.ratings.reviews, true);
      list.children[before]?.setAttribute("tabindex", "-1");
      list.children[before]?.focus();
    } catch (error) {
      count.textContent = `More reviews couldn't be read: ${error.message}`;
    } finally {
      more.disabled = false;
    }
  });

  const boxes = [5, 4, 3, 2, 1].map((n) => {
    const box = el("input", { type: "checkbox", id: `review-stars-${n}`, value: String(n), checked: state.stars.includes(n) });
    box.addEventListener("change", () => {
      state.stars = boxes.filter((b) => b.checked).map((b) => Number(b.value)).sort();
      reload();
    });
    return box;
  });
  const commented = el("input", { type: "checkbox", id: "review-comment-only", checked: state.withCommentOnly });
  commented.addEventListener("change", () => {
    state.withCommentOnly = commented.checked;
    reload();
  });
  async function reload() {
    try {
      const data = await api.gql(Q_MORE_REVIEWS, { from: state.from, to: state.to, after: null, ...filters() });
      show(data.ratings.reviews, false);
    } catch (error) {
      count.textContent = `The reviews couldn't be read: ${error.message}`;
    }
  }
  show(reviews, false);
  return el("section", { class: "report-section", "aria-labelledby": "reviews-title" },
    el("h3", { class: "report-heading", id: "reviews-title", text: "Reviews" }),
    el("fieldset", { class: "review-filters" },
      el("legend", { text: "Show" }),
      boxes.map((box) => el("label", { for: box.id, class: "check" }, box, ` ${box.value} ${box.value === "1" ? "star" : "stars"}`)),
      el("label", { for: commented.id, class: "check" }, commented, " Only with comments")),
    count,
    list,
    more,
  );
}

function render(api, view, data) {
  const { el } = api;
  const r = data.ratings;
  view.replaceChildren(
    el("h3", { class: "report-heading", text: `From ${r.from} to ${r.to}` }),
    el("dl", { class: "kpis" },
      el("div", { class: "kpi" }, el("dt", { text: "Average" }), el("dd", {}, el("span", { class: "kpi-value", text: r.average === null ? "–" : `${r.average.toFixed(1)} / 5` }))),
      el("div", { class: "kpi" }, el("dt", { text: "Ratings" }), el("dd", {}, el("span", { class: "kpi-value", text: String(r.count) }))),
      el("div", { class: "kpi" }, el("dt", { text: "4–5 stars" }), el("dd", {}, el("span", { class: "kpi-value", text: percent(r.positiveShare) }))),
      el("div", { class: "kpi" }, el("dt", { text: "1–2 stars" }), el("dd", {}, el("span", { class: "kpi-value", text: percent(r.negativeShare) }))),
    ),
    distribution(api, r),
    dailyBars(api, {
      label: "Ratings per day",
      days: r.days,
      value: (d) => d.count,
      text: (d) => (d.count ? `${d.count} rated, average ${d.average.toFixed(1)}` : "no ratings"),
      columns: [["Ratings", (d) => String(d.count)], ["Average", (d) => (d.average === null ? "–" : d.average.toFixed(1))]],
    }),
    reviewsSection(api, r.reviews),
  );
}

async function load(api, view, variables = { from: state.from, to: state.to }) {
  const read = ++reads;
  view.setAttribute("aria-busy", "true");
  try {
    const data = await api.gql(Q_RATINGS, { ...variables, ...filters() });
    if (read !== reads) return;
    state.picker.showing(data.ratings.from, data.ratings.to);
    render(api, view, data);
  } catch (error) {
    if (read !== reads) return;
    view.replaceChildren(api.el("p", { class: "error", role: "alert", text: `The ratings couldn't be read: ${error.message}` }));
  } finally {
    if (read === reads) view.removeAttribute("aria-busy");
  }
}

export default {
  id: "ratings",
  title: "Ratings",
  mount(root, api) {
    const view = api.el("div", { class: "report" }, api.el("p", { class: "empty", role: "status", text: "Loading…" }));
    state.picker = picker(api, state, (variables) => load(api, view, variables));
    root.replaceChildren(state.picker.node, view);
    return load(api, view);
  },
};
