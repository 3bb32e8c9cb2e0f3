// The owner's pages beside the inbox (overview, orders, ratings, usage, settings): one module each,
// in ./pages/, shown by app.js in place of the inbox when their tab in the header is chosen.
//
// A page module is `export default { id, title, mount(root, api), onEvent?(entity, kind) }`:
// - `mount` fills `root` (an emptied element) and reads what it shows; it is called every time the
//   page is opened, and again when the restaurant changes, so a page never shows stale or foreign data.
// - `onEvent` gets each live change of the restaurant while the page is open: the changed entity as
//   the `events` subscription delivers it (its `node`, with `__typename`: Message, Conversation, Order, …),
//   and what happened to it (the event's `kind`: MESSAGE_CREATED, MESSAGE_UPDATED, ORDER_UPDATED, …).
// - `api` is the inbox's toolbox, the same functions the inbox itself uses:
//   { gql(query, variables), el(tag, attrs, ...children), money(minor, currency), formatTime(iso,
//   { withDay }), dayLabel(iso), duration(seconds), timeZone(), restaurant(), restaurantId(),
//   announce(text), openConversation(id), ApiError }.
// Pages read and write only through the public GraphQL API, like the inbox.

import overview from "./pages/overview.js";
import orders from "./pages/orders.js";
import ratings from "./pages/ratings.js";
import usage from "./pages/usage.js";
import settings from "./pages/settings.js";

export const PAGES = [overview, orders, ratings, usage, settings];
