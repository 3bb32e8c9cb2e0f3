// Placeholder: replaced by the Ratings page (issue #16).
export default {
  id: "ratings",
  title: "Ratings",
  mount(root, api) {
    root.replaceChildren(api.el("p", { class: "empty", text: "Ratings is not available yet." }));
  },
};
