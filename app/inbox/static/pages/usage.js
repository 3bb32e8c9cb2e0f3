// Placeholder: replaced by the Usage page (issue #16).
export default {
  id: "usage",
  title: "Usage",
  mount(root, api) {
    root.replaceChildren(api.el("p", { class: "empty", text: "Usage is not available yet." }));
  },
};
