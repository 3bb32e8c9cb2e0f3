// Placeholder: replaced by the Overview page (issue #16).
export default {
  id: "overview",
  title: "Overview",
  mount(root, api) {
    root.replaceChildren(api.el("p", { class: "empty", text: "Overview is not available yet." }));
  },
};
