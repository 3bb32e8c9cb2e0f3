// Placeholder: replaced by the Settings page (issue #16).
export default {
  id: "settings",
  title: "Settings",
  mount(root, api) {
    root.replaceChildren(api.el("p", { class: "empty", text: "Settings is not available yet." }));
  },
};
