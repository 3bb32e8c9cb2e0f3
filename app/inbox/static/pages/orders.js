// Placeholder: replaced by the Orders page (issue #16).
export default {
  id: "orders",
  title: "Orders",
  mount(root, api) {
    root.replaceChildren(api.el("p", { class: "empty", text: "Orders is not available yet." }));
  },
};
