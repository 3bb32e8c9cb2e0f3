// Sufrah inbox: a staff dashboard built only on the public GraphQL API (schema.graphql).
//
// Reads and writes: HTTP POST /graphql with `Authorization: Bearer` and `X-Restaurant-Id`.
// Live updates: one `events(after:)` subscription over graphql-ws (vendored, no build step).
//
// Never stale, never lost, never doubled:
// - Every event carries `cursor` (beside its `kind` and the row it names, `node`); the newest one applied is kept in `state.cursor` (and in
//   sessionStorage, per restaurant). graphql-ws re-sends the subscription after every reconnect,
//   and its variables are a getter on the current state, so the resumed stream starts right after
//   the last event this page applied: what happened while the socket was down is replayed.
// - A stream that ends (SUBSCRIBER_TOO_SLOW, or any other end) is subscribed again from that cursor.
// - Everything is merged by id, never appended blindly: a conversation or an order replaces the
//   copy we hold only if its `updatedAt` is not older; a message only if its delivery status does
//   not move backwards. A replayed event, or one racing a query, can't double or regress anything.
// - The lists are read over HTTP when the page opens. Until the first event there is no cursor, so
//   every (re)connection without one reads them again (merged the same way) instead of resuming.
// - The page never reloads itself: `window.sufrahInbox.bootId` stays what it was at load.

import { createClient } from "./vendor/graphql-ws-6.4.2/client.js";
import {
  M_BOT, M_CLOSE, M_CREATE_TEMPLATE, M_DELETE_TEMPLATE, M_MARK_READ, M_NOTIFICATIONS_READ, M_ORDER_STATUS,
  M_REOPEN, M_SEND, M_SEND_TEMPLATE, M_TEMPLATE_SETTINGS, M_UPDATE_TEMPLATE, Q_CONVERSATION, Q_CONVERSATION_COUNT,
  Q_CONVERSATIONS, Q_NOTIFICATIONS, Q_ORDER, Q_ORDERS, Q_RESTAURANTS, Q_STATS, Q_TEMPLATES, S_EVENTS,
} from "./queries.js";
import { PAGES } from "./pages.js";

// ---------------------------------------------------------------------------------------------
// State

const $ = (id) => document.getElementById(id);
const OPEN_ORDER_STATUSES = ["CONFIRMED", "PREPARING", "OUT_FOR_DELIVERY", "READY"];
const LIST_PAGE = 30;
const MESSAGES_PAGE = 30;
const CUSTOMER_WINDOW_MS = 24 * 60 * 60 * 1000;
const STORE = sessionStorage;
const KEY_TOKEN = "sufrah.inbox.token";
const KEY_RESTAURANT = "sufrah.inbox.restaurant";
const cursorKey = (restaurantId) => `sufrah.inbox.cursor.${restaurantId}`;

const state = freshState();

function freshState() {
  return {
    token: null,
    restaurants: [],
    restaurantId: null,
    cursor: null, // the newest event applied: where a resumed stream starts
    conversations: new Map(), // every conversation we know of, by id
    inList: new Set(), // the ids the list shows (match the filter, within the pages loaded)
    previews: new Map(), // conversation id -> its newest message we know of
    list: { status: "ACTIVE", search: "", hasNext: false, endCursor: null, total: null, loading: false, seq: 0 },
    openId: null,
    openBot: null,
    messages: new Map(), // the open conversation's messages, by id
    older: { hasPrevious: false, startCursor: null, loading: false },
    orders: new Map(), // open orders, by id
    ordersPage: { hasNext: false, endCursor: null },
    stats: null,
    notifications: new Map(), // the newest staff notifications, by id (the bell's list)
    unreadNotifications: 0,
    notificationsLoaded: false,
    connection: "idle",
    synced: false, // the lists have been read once for this restaurant
    templates: null, // the restaurant's WhatsApp templates, once read: { list, followUp, orderStatus }
  };
}

// For tests and for anyone debugging in the console: what the page has seen since it loaded.
window.sufrahInbox = Object.freeze({
  bootId: crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2),
  loadedAt: new Date().toISOString(),
  get cursor() { return state.cursor; },
  get connection() { return state.connection; },
  get restaurantId() { return state.restaurantId; },
  get alerts() { return { ...alerts }; }, // sounds played and browser notifications shown
  // true once the bell's first read is in: what it found was there before the page (listed, silent)
  get notificationsLoaded() { return state.notificationsLoaded; },
});

// ---------------------------------------------------------------------------------------------
// HTTP: queries and mutations

class ApiError extends Error {
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}

async function gql(query, variables = {}) {
  const headers = { "Content-Type": "application/json", Accept: "application/json" };
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  if (state.restaurantId) headers["X-Restaurant-Id"] = state.restaurantId;
  let response;
  try {
    response = await fetch("/graphql", { method: "POST", headers, body: JSON.stringify({ query, variables }) });
  } catch {
    throw new ApiError("The server can't be reached right now. Try again in a moment.", "NETWORK");
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`The server answered ${response.status}.`, "HTTP");
  }
  if (body.errors?.length) {
    const [first] = body.errors;
    const code = first.extensions?.code ?? "ERROR";
    if (code === "UNAUTHENTICATED") signOut("Your token was refused. Sign in again.");
    throw new ApiError(first.message, code);
  }
  if (!response.ok) throw new ApiError(`The server answered ${response.status}.`, "HTTP");
  return body.data;
}

// ---------------------------------------------------------------------------------------------
// Merging: by id, never older over newer

function newerOrSame(incoming, existing, field = "updatedAt") {
  if (!existing) return true;
  const a = Date.parse(incoming[field]);
  const b = Date.parse(existing[field]);
  if (a !== b) return a > b;
  return String(incoming[field]) >= String(existing[field]); // same millisecond: compare microseconds
}

const DELIVERY_RANK = { accepted: 0, scheduled: 0, queued: 0, sending: 1, sent: 2, delivered: 3, read: 4,
  undelivered: 5, failed: 5 };
const rank = (status) => DELIVERY_RANK[status ?? ""] ?? 0;

function mergeConversation(incoming) {
  const existing = state.conversations.get(incoming.id);
  if (!newerOrSame(incoming, existing)) return existing;
  const merged = { ...existing, ...incoming };
  delete merged.cursor;
  delete merged.__typename;
  if (incoming.lastMessage) mergePreview(incoming.lastMessage);
  delete merged.lastMessage;
  state.conversations.set(incoming.id, merged);
  placeInList(merged);
  changed.list = true;
  if (incoming.id === state.openId) changed.chat = true;
  return merged;
}

function mergePreview(message) {
  const existing = state.previews.get(message.conversationId);
  if (!existing || existing.id === message.id || newerOrSame(message, existing, "createdAt")) {
    state.previews.set(message.conversationId, message);
  }
}

function mergeMessage(incoming) {
  const message = { ...incoming };
  delete message.cursor;
  delete message.__typename;
  mergePreview(message);
  changed.list = true;
  if (message.conversationId !== state.openId) return false;
  const existing = state.messages.get(message.id);
  if (existing && rank(message.deliveryStatus) < rank(existing.deliveryStatus)) return false;
  state.messages.set(message.id, message);
  changed.chat = true;
  return !existing;
}

function mergeOrder(incoming) {
  const existing = state.orders.get(incoming.id);
  if (!newerOrSame(incoming, existing)) return;
  if (!OPEN_ORDER_STATUSES.includes(incoming.status)) {
    if (state.orders.delete(incoming.id)) changed.orders = true;
    return;
  }
  const order = { ...existing, ...incoming };
  delete order.cursor;
  delete order.__typename;
  state.orders.set(order.id, order);
  changed.orders = true;
  if (!order.lines) fetchOrderLines(order.id);
}

async function fetchOrderLines(id) {
  try {
    const { order } = await gql(Q_ORDER, { id });
    if (order) mergeOrder(order);
    render();
  } catch (error) {
    console.warn("could not read order", id, error);
  }
}

// Does the list show this conversation? It must match the filter and fall within the pages read
// so far (older ones come with the next page, from the server, in order).
function placeInList(conversation) {
  const { status, search } = state.list;
  let fits = !status || conversation.status === status;
  if (fits && search && !state.inList.has(conversation.id)) {
    const needle = search.toLowerCase();
    fits = [conversation.customerName, conversation.customerPhone].some((v) => v?.toLowerCase().includes(needle));
  }
  if (fits && state.list.hasNext && !state.inList.has(conversation.id)) {
    const last = lastListed();
    if (last && compareConversations(conversation, last) > 0) fits = false;
  }
  if (fits) state.inList.add(conversation.id);
  else state.inList.delete(conversation.id);
}

function compareConversations(a, b) {
  const t = Date.parse(b.lastMessageAt) - Date.parse(a.lastMessageAt);
  if (t !== 0) return t;
  if (a.lastMessageAt !== b.lastMessageAt) return a.lastMessageAt < b.lastMessageAt ? 1 : -1;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

function listed() {
  return [...state.inList].map((id) => state.conversations.get(id)).filter(Boolean).sort(compareConversations);
}

function lastListed() {
  const all = listed();
  return all[all.length - 1];
}

// ---------------------------------------------------------------------------------------------
// The event stream

const stream = { client: null, dispose: null, generation: 0, connections: 0, failures: 0, pongTimer: null,
  retryTimer: null };

function backoff(retries) {
  const cap = 10_000;
  const base = Math.min(cap, 500 * 2 ** retries);
  return Math.round(base / 2 + Math.random() * (base / 2)); // "equal jitter": never 0, never above the cap
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const isCloseEvent = (value) => value && typeof value === "object" && "code" in value && "reason" in value;

function startStream() {
  stopStream();
  const generation = ++stream.generation;
  const mine = (fn) => (...args) => (generation === stream.generation ? fn(...args) : undefined);
  let socket = null;
  stream.connections = 0;
  stream.client = createClient({
    url: new URL("/graphql", location.href).href.replace(/^http/, "ws"),
    connectionParams: () => ({ authorization: `Bearer ${state.token}`, restaurantId: state.restaurantId }),
    lazy: true,
    lazyCloseTimeout: 3_000, // a stream that ends is subscribed again at once: keep the socket meanwhile
    keepAlive: 10_000, // ping every 10 s; no pong within 5 s closes the socket (a half-open connection)
    retryAttempts: Infinity,
    shouldRetry: (event) => !(isCloseEvent(event) && event.code === 4403),
    retryWait: async (retries) => {
      const wait = backoff(retries);
      if (generation === stream.generation) setConnection("reconnecting", `Reconnecting in ${Math.ceil(wait / 1000)} s…`);
      await sleep(wait);
    },
    on: {
      connecting: mine((isRetry) => setConnection(isRetry ? "reconnecting" : "connecting")),
      connected: mine((ws) => {
        socket = ws;
        stream.connections += 1;
        setConnection("live");
        connected();
      }),
      closed: mine((event) => {
        socket = null;
        clearTimeout(stream.pongTimer);
        if (isCloseEvent(event) && event.code === 4403) {
          signOut("The server refused this token for this restaurant. Sign in again.");
        } else if (state.connection !== "idle") {
          setConnection("reconnecting", "Connection lost. Reconnecting…");
        }
      }),
      ping: mine((received) => {
        if (received) return;
        clearTimeout(stream.pongTimer);
        stream.pongTimer = setTimeout(() => socket?.close(4408, "Pong timeout"), 5_000);
      }),
      pong: mine((received) => {
        if (received) clearTimeout(stream.pongTimer);
      }),
    },
  });
  subscribe(generation);
}

function stopStream() {
  stream.generation += 1;
  clearTimeout(stream.pongTimer);
  clearTimeout(stream.retryTimer);
  stream.dispose?.();
  stream.client?.dispose();
  stream.client = null;
  stream.dispose = null;
}

function subscribe(generation) {
  const request = {
    query: S_EVENTS,
    // graphql-ws re-sends this same object after every reconnect: reading the cursor here, at
    // send time, makes the resumed stream start after the newest event applied so far.
    get variables() {
      return { after: state.cursor };
    },
  };
  let errors = null;
  const current = () => generation === stream.generation;
  stream.dispose = stream.client.subscribe(request, {
    next(result) {
      if (!current()) return;
      if (result.errors?.length) errors = result.errors;
      if (result.data?.events) {
        stream.failures = 0;
        applyEvent(result.data.events);
      }
    },
    error(error) {
      if (current()) streamEnded(error, generation);
    },
    complete() {
      if (current()) streamEnded(errors, generation);
    },
  });
}

// The subscription ended (the socket may still be up): resume from the last cursor.
function streamEnded(error, generation) {
  const errors = Array.isArray(error) ? error : [];
  const codes = errors.map((e) => e?.extensions?.code);
  if (isCloseEvent(error) && error.code === 4403) return; // handled by `closed`
  if (codes.includes("UNAUTHENTICATED") || codes.includes("FORBIDDEN")) {
    signOut("Your token is no longer accepted. Sign in again.");
    return;
  }
  let wait = 0;
  stream.failures += 1;
  if (codes.includes("BAD_USER_INPUT")) {
    // The cursor is not ours any more (another database, a reset): start over from the lists.
    console.warn("event cursor refused; reading the lists again", errors);
    setCursor(null);
    state.synced = false;
  } else if (!codes.includes("SUBSCRIBER_TOO_SLOW")) {
    wait = backoff(stream.failures); // an unexpected end: don't spin
    if (error) console.warn("event stream ended", error);
  }
  clearTimeout(stream.retryTimer);
  stream.retryTimer = setTimeout(() => {
    if (generation !== stream.generation) return;
    if (!state.synced) synchronize();
    subscribe(generation);
  }, wait);
}

function connected() {
  // Without a cursor there is nothing to resume from: read the lists again, now that the stream is
  // on, merging by id. With one, the stream replays what we missed; only the stats (not an event)
  // need reading again.
  if (!state.synced || !state.cursor) synchronize();
  else refreshStats().catch(() => {});
}

function setCursor(cursor) {
  state.cursor = cursor;
  if (!state.restaurantId) return;
  if (cursor) STORE.setItem(cursorKey(state.restaurantId), cursor);
  else STORE.removeItem(cursorKey(state.restaurantId));
}

function applyEvent({ kind, cursor, node }) {
  switch (node.__typename) {
    case "Message": {
      const added = mergeMessage(node);
      const fresh = kind === "MESSAGE_CREATED" && (added || node.conversationId !== state.openId);
      if (node.direction === "IN" && fresh) announceMessage(node);
      break;
    }
    case "Conversation": {
      const known = state.conversations.get(node.id);
      mergeConversation(node);
      // a new one, or one closed or reopened, changes the list's count (new activity alone does not)
      if (!known || known.status !== node.status) scheduleCount();
      break;
    }
    case "Order": {
      const { orderStatus, ...order } = node;
      mergeOrder({ ...order, status: orderStatus });
      break;
    }
    case "Restaurant":
      mergeRestaurant(node);
      break;
    case "Notification":
      if (mergeNotification(node)) {
        state.unreadNotifications += node.read ? 0 : 1;
        alertStaff(node);
      }
      break;
    default:
      break; // Bot: nothing on this page depends on it
  }
  if (cursor) setCursor(cursor);
  scheduleStats();
  render();
  pageEvent(node, kind);
}

function mergeRestaurant(restaurant) {
  const index = state.restaurants.findIndex((r) => r.id === restaurant.id);
  const clean = { id: restaurant.id, name: restaurant.name, currency: restaurant.currency,
    timezone: restaurant.timezone, botEnabled: restaurant.botEnabled, ...opening(restaurant) };
  if (index >= 0) state.restaurants[index] = clean;
  else state.restaurants.push(clean);
  changed.header = true;
}

// ---------------------------------------------------------------------------------------------
// Reading the lists

async function synchronize() {
  const restaurantId = state.restaurantId;
  const results = await Promise.allSettled([reloadList({ merge: state.synced }), loadOrders(), refreshStats(),
    loadNotifications(), state.openId ? loadLatestMessages(state.openId) : null]);
  if (restaurantId !== state.restaurantId) return;
  if (results.every((r) => r.status === "fulfilled")) state.synced = true;
  render();
}

async function reloadList({ merge = false } = {}) {
  const seq = ++state.list.seq;
  if (!merge) {
    state.inList.clear();
    state.list.hasNext = false;
    state.list.endCursor = null;
  }
  state.list.loading = true;
  changed.list = true;
  render();
  try {
    const data = await gql(Q_CONVERSATIONS, listVariables(null));
    if (seq !== state.list.seq) return;
    const page = data.conversations;
    if (!merge || !state.list.endCursor) {
      state.list.hasNext = page.pageInfo.hasNextPage;
      state.list.endCursor = page.pageInfo.endCursor;
    }
    state.list.total = page.totalCount;
    if (merge) {
      // Read again after a gap: what the first page no longer holds has left the filter meanwhile.
      const fresh = new Set(page.nodes.map((c) => c.id));
      const last = page.nodes[page.nodes.length - 1];
      for (const id of [...state.inList]) {
        const c = state.conversations.get(id);
        if (!fresh.has(id) && (!page.pageInfo.hasNextPage || (c && last && compareConversations(c, last) < 0))) {
          state.inList.delete(id);
        }
      }
    }
    for (const node of page.nodes) {
      state.inList.add(node.id);
      mergeConversation(node);
    }
  } finally {
    if (seq === state.list.seq) state.list.loading = false;
    changed.list = true;
    render();
  }
}

async function loadMoreConversations() {
  if (state.list.loading || !state.list.hasNext) return;
  const seq = state.list.seq;
  state.list.loading = true;
  try {
    const data = await gql(Q_CONVERSATIONS, listVariables(state.list.endCursor));
    if (seq !== state.list.seq) return;
    const page = data.conversations;
    state.list.hasNext = page.pageInfo.hasNextPage;
    state.list.endCursor = page.pageInfo.endCursor ?? state.list.endCursor;
    for (const node of page.nodes) {
      state.inList.add(node.id);
      mergeConversation(node);
    }
  } catch (error) {
    announce(error.message);
  } finally {
    if (seq === state.list.seq) state.list.loading = false;
    changed.list = true;
    render();
  }
}

function listVariables(after) {
  return { status: state.list.status || null, search: state.list.search || null, first: LIST_PAGE, after };
}

async function loadOrders() {
  const known = new Set(state.orders.keys());
  const data = await gql(Q_ORDERS, { status: OPEN_ORDER_STATUSES, first: 50, after: null });
  const { nodes, hasNextPage, endCursor } = data.orders;
  if (!hasNextPage) {
    // Held before this read, and not among the open ones now: closed while we were not listening.
    // (An order that arrived by an event during the read was not held before, so it stays.)
    const open = new Set(nodes.map((o) => o.id));
    for (const id of known) if (!open.has(id)) state.orders.delete(id);
  }
  for (const node of nodes) mergeOrder(node);
  state.ordersPage = { hasNext: hasNextPage, endCursor };
  changed.orders = true;
}

async function loadMoreOrders() {
  if (!state.ordersPage.hasNext) return;
  const data = await gql(Q_ORDERS, { status: OPEN_ORDER_STATUSES, first: 50, after: state.ordersPage.endCursor });
  for (const node of data.orders.nodes) mergeOrder(node);
  state.ordersPage = { hasNext: data.orders.hasNextPage, endCursor: data.orders.endCursor };
  render();
}

let statsTimer = null;
function scheduleStats() {
  if (statsTimer) return;
  statsTimer = setTimeout(() => {
    statsTimer = null;
    refreshStats().catch(() => {});
  }, 800);
}

async function refreshStats() {
  const data = await gql(Q_STATS);
  state.stats = data.stats;
  changed.header = true;
  render();
}

// The list's "N conversations": read again (the count alone) after conversation events, so it stays
// true while conversations start and close; a reading overtaken by a new list (filter, search) is dropped.
let countTimer = null;
function scheduleCount() {
  if (countTimer) return;
  countTimer = setTimeout(() => {
    countTimer = null;
    refreshCount().catch(() => {});
  }, 300);
}

async function refreshCount() {
  const { seq } = state.list;
  const restaurantId = state.restaurantId;
  const { status, search } = listVariables(null);
  const data = await gql(Q_CONVERSATION_COUNT, { status, search });
  if (seq !== state.list.seq || restaurantId !== state.restaurantId) return;
  state.list.total = data.conversations.totalCount;
  changed.list = true;
  render();
}

// ---------------------------------------------------------------------------------------------
// The open conversation

async function openConversation(id, { focus = false } = {}) {
  if (state.openId !== id) {
    state.openId = id;
    state.openBot = null;
    state.messages = new Map();
    state.older = { hasPrevious: false, startCursor: null, loading: true };
    chatScroll.toBottom = true;
    $("reply-error").textContent = "";
    history.replaceState(null, "", `#conversation=${encodeURIComponent(id)}`);
  }
  changed.chat = changed.list = true;
  showView("chat");
  render();
  if (focus) $("chat-title").focus();
  await loadLatestMessages(id);
  const conversation = state.conversations.get(id);
  if (conversation?.unreadCount > 0 && state.openId === id) {
    runConversationMutation(M_MARK_READ, "markConversationRead", { id }).catch((e) => announce(e.message));
  }
}

async function loadLatestMessages(id) {
  try {
    const data = await gql(Q_CONVERSATION, { id, last: MESSAGES_PAGE, before: null });
    if (state.openId !== id) return;
    if (!data.conversation) {
      closeChat();
      announce("That conversation is not available.");
      return;
    }
    const { messages, bot, ...conversation } = data.conversation;
    state.openBot = bot;
    mergeConversation(conversation);
    const known = messages.nodes.some((m) => state.messages.has(m.id));
    if (state.older.startCursor !== null && !known && messages.pageInfo.hasPreviousPage) {
      state.messages = new Map(); // read again after a gap wider than a page: start from this page
      state.older.startCursor = null;
    }
    const firstLoad = state.older.startCursor === null;
    for (const message of messages.nodes) mergeMessage(message);
    if (firstLoad) {
      state.older = { hasPrevious: messages.pageInfo.hasPreviousPage, startCursor: messages.pageInfo.startCursor,
        loading: false };
    }
    changed.chat = true;
  } catch (error) {
    if (state.openId === id) state.older.loading = false;
    announce(error.message);
  } finally {
    render();
  }
}

async function loadOlderMessages() {
  const id = state.openId;
  const { hasPrevious, startCursor, loading } = state.older;
  if (!id || !hasPrevious || loading) return;
  state.older.loading = true;
  try {
    const data = await gql(Q_CONVERSATION, { id, last: MESSAGES_PAGE, before: startCursor });
    if (state.openId !== id || !data.conversation) return;
    const page = data.conversation.messages;
    for (const message of page.nodes) mergeMessage(message);
    state.older = { hasPrevious: page.pageInfo.hasPreviousPage, startCursor: page.pageInfo.startCursor ?? startCursor,
      loading: false };
    chatScroll.keepAnchor = true;
    changed.chat = true;
  } catch (error) {
    announce(error.message);
  } finally {
    if (state.openId === id) state.older.loading = false;
    render();
  }
}

function closeChat() {
  state.openId = null;
  state.messages = new Map();
  history.replaceState(null, "", location.pathname);
  changed.chat = changed.list = true;
  showView("list");
  render();
}

async function runConversationMutation(query, field, variables) {
  const data = await gql(query, variables);
  const result = data[field];
  if (result.__typename === "Conversation") {
    const known = state.conversations.get(result.id);
    mergeConversation(result);
    if (known?.status !== result.status) scheduleCount(); // closed or reopened here: its event finds it so
    render();
    return null;
  }
  return result.message;
}

// ---------------------------------------------------------------------------------------------
// Rendering (keyed: nodes are reused, so focus and scroll positions survive updates)

const changed = { header: true, list: true, chat: true, orders: true, notifications: true };
let renderTimer = null;

function render() {
  if (renderTimer) return;
  renderTimer = setTimeout(() => {
    renderTimer = null;
    if (changed.header) renderHeader();
    if (changed.list) renderList();
    if (changed.chat) renderChat();
    if (changed.orders) renderOrders();
    if (changed.notifications) renderNotifications();
    changed.header = changed.list = changed.chat = changed.orders = changed.notifications = false;
  }, 0);
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) node.append(child);
  }
  return node;
}

function restaurant() {
  return state.restaurants.find((r) => r.id === state.restaurantId) ?? null;
}

function timeZone() {
  return restaurant()?.timezone || undefined;
}

function formatTime(iso, { withDay = false } = {}) {
  if (!iso) return "";
  const date = new Date(iso);
  const options = { hour: "2-digit", minute: "2-digit", timeZone: timeZone() };
  const sameDay = dayKey(iso) === dayKey(new Date().toISOString());
  if (withDay || !sameDay) Object.assign(options, { day: "numeric", month: "short" });
  try {
    return new Intl.DateTimeFormat(undefined, options).format(date);
  } catch {
    delete options.timeZone;
    return new Intl.DateTimeFormat(undefined, options).format(date);
  }
}

function dayKey(iso) {
  try {
    return new Intl.DateTimeFormat("en-CA", { timeZone: timeZone() }).format(new Date(iso));
  } catch {
    return new Date(iso).toDateString();
  }
}

function dayLabel(iso) {
  const options = { weekday: "long", day: "numeric", month: "long", year: "numeric", timeZone: timeZone() };
  try {
    return new Intl.DateTimeFormat(undefined, options).format(new Date(iso));
  } catch {
    return new Date(iso).toDateString();
  }
}

function money(minor, currency) {
  const amount = (minor ?? 0) / 100;
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency, currencyDisplay: "code" }).format(amount);
  } catch {
    return `${amount.toFixed(2)} ${currency ?? ""}`.trim();
  }
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}

const displayName = (c) => c.customerName || c.customerPhone;

function renderHeader() {
  const current = restaurant();
  const select = $("restaurant-select");
  const many = state.restaurants.length > 1;
  $("restaurant-switch").hidden = !many || !state.restaurantId;
  $("restaurant-name").hidden = many || !current;
  $("restaurant-name").textContent = current ? current.name : "";
  const choices = JSON.stringify(state.restaurants.map((r) => [r.id, r.name]));
  if (many && select.dataset.choices !== choices) { // rebuilt only when they change: an open picker stays open
    select.replaceChildren(...state.restaurants.map((r) => el("option", { value: r.id, text: r.name })));
    select.dataset.choices = choices;
  }
  if (many) select.value = state.restaurantId ?? "";
  $("restaurant-bot").hidden = !current || current.botEnabled;
  renderOpening(current);
  const stats = state.stats;
  for (const dd of document.querySelectorAll("[data-stat]")) {
    const key = dd.dataset.stat;
    if (!stats) dd.textContent = "–";
    else dd.textContent = key === "medianFirstResponseSeconds" ? duration(stats[key]) : String(stats[key]);
  }
  const unread = stats?.totalUnread ?? 0;
  document.title = unread > 0 ? `(${unread}) Sufrah inbox` : "Sufrah inbox";
  // Folded (a phone's default), the toggle still says what needs attention.
  $("stats-summary").textContent = stats
    ? `: ${stats.totalUnread} unread, ${stats.waitingForStaff} waiting for staff` : "";
}

// The stats fold away on a narrow screen (folded at first there) so the chat keeps the height.
function setStatsOpen(open) {
  $("stats-section").dataset.open = String(open);
  $("stats-toggle").setAttribute("aria-expanded", String(open));
}

// Open / Busy / Closed until …: the restaurant's opening state (hours, exceptions, the busy/closed
// switch, judged by the server), re-read when it is due to change by itself.
const opening = ({ orderingState, orderingStateUntil, openStatus, nextOpensAt, closesAt, closedNote }) =>
  ({ orderingState, orderingStateUntil, openStatus, nextOpensAt, closesAt, closedNote });
let openingTimer = null;

function openingLabel(r) {
  const at = (iso) => formatTime(iso, { withDay: true });
  const note = r.closedNote ? ` (${r.closedNote})` : "";
  if (r.openStatus === "BUSY") return r.orderingStateUntil ? `Busy until ${at(r.orderingStateUntil)}` : "Busy";
  if (r.openStatus === "OPEN") return r.closesAt ? `Open until ${at(r.closesAt)}` : "Open";
  return r.nextOpensAt ? `Closed${note} until ${at(r.nextOpensAt)}` : `Closed${note}`;
}

function renderOpening(current) {
  const node = $("restaurant-open");
  node.hidden = !current?.openStatus;
  if (!current?.openStatus) return;
  const label = openingLabel(current);
  if (node.textContent !== label) node.textContent = label;
  node.dataset.state = current.openStatus.toLowerCase();
  const due = [current.nextOpensAt, current.closesAt, current.orderingStateUntil]
    .filter(Boolean).map((iso) => Date.parse(iso) - Date.now()).filter((ms) => ms > 0);
  clearTimeout(openingTimer);
  if (due.length) openingTimer = setTimeout(refreshOpening, Math.min(Math.min(...due) + 1000, 2 ** 31 - 1));
}

async function refreshOpening() {
  try {
    for (const r of (await gql(Q_RESTAURANTS)).restaurants) mergeRestaurant(r);
    render();
  } catch {
    // the next event or sign-in reads it again
  }
}

const listNodes = new Map();

function renderList() {
  const ul = $("conversations");
  const rows = listed();
  const focused = document.activeElement;
  const nodes = rows.map((c) => {
    let li = listNodes.get(c.id);
    if (!li) {
      li = el("li", {}, el("button", { type: "button", class: "conversation", "data-id": c.id }));
      listNodes.set(c.id, li);
    }
    fillConversationButton(li.firstChild, c);
    return li;
  });
  for (const id of listNodes.keys()) if (!state.inList.has(id)) listNodes.delete(id);
  const same = nodes.length === ul.children.length && nodes.every((n, i) => ul.children[i] === n);
  if (!same) ul.replaceChildren(...nodes);
  if (focused && focused !== document.activeElement && focused.isConnected) focused.focus({ preventScroll: true });

  const { loading, hasNext, total } = state.list;
  $("more-conversations").hidden = !hasNext;
  $("more-conversations").textContent = loading ? "Loading…" : "Load more conversations";
  $("list-empty").hidden = loading || rows.length > 0;
  $("list-summary").textContent = loading && rows.length === 0
    ? "Loading conversations…"
    : total === null ? "" : `${total} conversation${total === 1 ? "" : "s"}`;
}

function fillConversationButton(button, c) {
  const preview = state.previews.get(c.id);
  const markers = [];
  if (c.waitingForStaff) markers.push(el("span", { class: "marker waiting", text: "Waiting for staff" }));
  markers.push(c.isBotActive
    ? el("span", { class: "marker bot-on", text: "Bot on" })
    : el("span", { class: "marker bot-off", text: "Bot off" }));
  if (c.status === "CLOSED") markers.push(el("span", { class: "marker closed", text: "Closed" }));
  const unread = c.unreadCount > 0
    ? el("span", { class: "badge" }, String(c.unreadCount), el("span", { class: "visually-hidden", text: " unread" }))
    : null;
  // Who wrote it, then its text in its own direction: an Arabic preview is cut at its end (the left),
  // so its first words show, as an English one's do.
  const by = authorOf(preview ?? {});
  const previewParts = preview
    ? [by === "customer" ? null : el("span", { class: "who", text: `${AUTHORS[by] ?? AUTHORS.staff}:` }),
      el("span", { class: "text", dir: "auto", text: preview.content || `[${preview.messageType}]` })]
    : [];
  button.replaceChildren(
    el("span", { class: "row" },
      el("bdi", { class: "name", text: displayName(c) }),
      el("time", { class: "when", datetime: c.lastMessageAt, text: formatTime(c.lastMessageAt) })),
    el("span", { class: "row" },
      el("span", { class: "preview" }, previewParts),
      unread),
    el("span", { class: "markers" }, markers),
  );
  button.classList.toggle("unread", c.unreadCount > 0);
  if (c.id === state.openId) button.setAttribute("aria-current", "true");
  else button.removeAttribute("aria-current");
}

const messageNodes = new Map();
const dayNodes = new Map();
// "Load earlier messages" is the history's first item: it scrolls with the messages, in their flow,
// so it never sits over one and takes no room from the latest ones.
const olderItem = document.getElementById("older-item");
const chatScroll = { toBottom: false, keepAnchor: false };

function renderChat() {
  const conversation = state.openId ? state.conversations.get(state.openId) : null;
  $("chat").hidden = !state.openId;
  $("chat-empty").hidden = Boolean(state.openId);
  if (!state.openId) {
    messageNodes.clear();
    dayNodes.clear();
    $("messages").replaceChildren(olderItem);
    return;
  }
  if (conversation) {
    $("chat-title").textContent = displayName(conversation);
    const bits = [];
    if (conversation.customerName) bits.push(conversation.customerPhone);
    if (state.openBot) bits.push(`to ${state.openBot.name} (${state.openBot.whatsappNumber})`);
    if (conversation.status === "CLOSED") bits.push("closed");
    if (conversation.waitingForStaff) bits.push("waiting for staff");
    $("chat-sub").textContent = bits.join(" · ");
    const bot = $("toggle-bot");
    bot.setAttribute("aria-pressed", String(conversation.isBotActive));
    bot.replaceChildren("Bot replies", el("span", { class: "state", "aria-hidden": "true",
      text: conversation.isBotActive ? " on" : " off" }));
    $("toggle-status").textContent = conversation.status === "CLOSED" ? "Reopen" : "Close";
    $("toggle-status").setAttribute("aria-label",
      conversation.status === "CLOSED" ? "Reopen conversation" : "Close conversation");
    $("mark-read").textContent = conversation.unreadCount > 0 ? `Mark read (${conversation.unreadCount})` : "Mark read";
    const inboundAt = conversation.lastInboundAt ? Date.parse(conversation.lastInboundAt) : 0;
    const windowOpen = Date.now() - inboundAt < CUSTOMER_WINDOW_MS;
    $("window-note").hidden = windowOpen;
    showTemplatePicker(!windowOpen);
  }
  const ol = $("messages");
  const before = { height: ol.scrollHeight, top: ol.scrollTop,
    atBottom: ol.scrollHeight - ol.scrollTop - ol.clientHeight < 48 };
  olderItem.hidden = !state.older.hasPrevious;
  $("older").textContent = state.older.loading ? "Loading…" : "Load earlier messages";
  const focused = document.activeElement;
  const sorted = [...state.messages.values()].sort((a, b) =>
    (Date.parse(a.createdAt) - Date.parse(b.createdAt)) || (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0)
    || (a.id < b.id ? -1 : 1));
  const nodes = [olderItem];
  let lastDay = null;
  for (const message of sorted) {
    const day = dayKey(message.createdAt);
    if (day !== lastDay) {
      if (!dayNodes.has(day)) dayNodes.set(day, el("li", { class: "day" }, el("span", { text: dayLabel(message.createdAt) })));
      nodes.push(dayNodes.get(day));
      lastDay = day;
    }
    let entry = messageNodes.get(message.id);
    // an attachment's link changes once its file is stored (Twilio's URL, then ours)
    const version = `${message.deliveryStatus}|${message.errorMessage}|${message.content}|${(message.mediaUrls ?? []).join(" ")}`;
    if (!entry || entry.version !== version) {
      entry = { node: messageNode(message), version };
      messageNodes.set(message.id, entry);
    }
    nodes.push(entry.node);
  }
  for (const id of messageNodes.keys()) if (!state.messages.has(id)) messageNodes.delete(id);
  const same = nodes.length === ol.children.length && nodes.every((n, i) => ol.children[i] === n);
  if (!same) ol.replaceChildren(...nodes);
  if (focused && focused !== document.activeElement && focused.isConnected) focused.focus({ preventScroll: true });

  if (chatScroll.keepAnchor) ol.scrollTop = before.top + (ol.scrollHeight - before.height);
  else if (chatScroll.toBottom || before.atBottom) ol.scrollTop = ol.scrollHeight;
  if (sorted.length) chatScroll.toBottom = false;
  chatScroll.keepAnchor = false;
}

const TICKS = {
  queued: ["◔", "Queued"], accepted: ["◔", "Queued"], scheduled: ["◔", "Queued"], sending: ["◔", "Sending"],
  sent: ["✓", "Sent"], delivered: ["✓✓", "Delivered"], read: ["✓✓", "Read"],
  failed: ["!", "Failed"], undelivered: ["!", "Not delivered"],
};
const AUTHORS = { customer: "Customer", bot: "Bot", staff: "Staff", system: "System" };
// Who wrote a message: customer, bot, staff or system (older rows may have no author: by direction).
const authorOf = (m) => m.author || (m.direction === "IN" ? "customer" : m.direction === "OUT" ? "staff" : null);

// An attachment: our own signed link (/media/...) once the file is stored, shown inline (images,
// audio, video) or offered for download (documents); anything else (Twilio's URL while the file is
// still being fetched, or one it could not fetch) is a plain link.
function mediaNode(m, url, contentType, i, count) {
  const kind = contentType || (m.messageType === "image" || m.messageType === "media" ? "image/" : "");
  const label = `${count > 1 ? `Attachment ${i + 1}` : "Attachment"}${contentType || m.messageType ? ` (${contentType || m.messageType})` : ""}`;
  const ours = ourMediaPath(url);
  if (ours) {
    const download = el("a", { href: ours, download: "", rel: "noopener", text: `Download ${label.toLowerCase()}` });
    if (kind.startsWith("image/")) {
      const img = el("img", { src: ours, alt: label, loading: "lazy" });
      img.addEventListener("error", () => img.replaceWith(download));
      return el("li", {}, el("a", { href: ours, target: "_blank", rel: "noopener" }, img));
    }
    if (kind.startsWith("audio/")) return el("li", {}, el("audio", { src: ours, controls: "", preload: "metadata", "aria-label": label }));
    if (kind.startsWith("video/")) return el("li", {}, el("video", { src: ours, controls: "", preload: "metadata", "aria-label": label }));
    return el("li", {}, download);
  }
  const href = safeUrl(url);
  return el("li", {}, href ? el("a", { href, target: "_blank", rel: "noopener noreferrer", text: label }) : label);
}

// Our link as a path on this origin (a staff upload's link is absolute, on PUBLIC_BASE_URL, for Twilio).
function ourMediaPath(url) {
  try {
    const parsed = new URL(url, location.origin);
    return parsed.pathname.startsWith("/media/") && parsed.searchParams.has("sig") ? parsed.pathname + parsed.search : null;
  } catch {
    return null;
  }
}

async function uploadMedia(file) {
  const headers = { "Content-Type": file.type || "application/octet-stream", Accept: "application/json" };
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  if (state.restaurantId) headers["X-Restaurant-Id"] = state.restaurantId;
  let response;
  try {
    response = await fetch(`/api/media?filename=${encodeURIComponent(file.name)}`, { method: "POST", headers, body: file });
  } catch {
    throw new ApiError("The server can't be reached right now. Try again in a moment.", "NETWORK");
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(body.error ?? `The server answered ${response.status}.`, "HTTP");
  return body;
}

function safeUrl(value) {
  try {
    const url = new URL(value);
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
  } catch {
    return null;
  }
}

function osmLink(latitude, longitude, text = "Open in OpenStreetMap") {
  const lat = Number(latitude);
  const lon = Number(longitude);
  if (!Number.isFinite(lat) || !Number.isFinite(lon)) return null;
  const href = `https://www.openstreetmap.org/?mlat=${lat}&mlon=${lon}#map=17/${lat}/${lon}`;
  return el("a", { href, target: "_blank", rel: "noopener noreferrer", text });
}

function messageNode(m) {
  const outgoing = m.direction === "OUT";
  const author = authorOf(m);
  const parts = [el("span", { class: "author", text: AUTHORS[author] ?? "Restaurant" })];
  if (m.metadata?.template) {
    parts.push(el("span", { class: "template-tag", text: `WhatsApp template ${m.metadata.template.name}` }));
  }
  const location = m.metadata?.location;
  if (m.content) parts.push(el("p", { class: "text", dir: "auto", text: m.content }));
  if (location) {
    const label = [location.label, location.address].filter(Boolean).join(" — ");
    parts.push(el("p", { class: "location" },
      el("span", { dir: "auto", text: `📍 ${label || "Shared location"}` }),
      el("span", { class: "coords", text: ` (${location.latitude}, ${location.longitude}) ` }),
      osmLink(location.latitude, location.longitude)));
  }
  const media = m.mediaUrls ?? [];
  if (media.length) {
    const declared = m.metadata?.media ?? [];
    parts.push(el("ul", { class: "media" }, media.map((url, i) => mediaNode(m, url, declared[i]?.contentType, i, media.length))));
  }
  if (!m.content && !location && !media.length) parts.push(el("p", { class: "text muted", text: `[${m.messageType}]` }));
  const meta = [el("time", { datetime: m.createdAt, text: formatTime(m.createdAt) })];
  if (outgoing && m.deliveryStatus) {
    const [glyph, label] = TICKS[m.deliveryStatus] ?? ["", m.deliveryStatus];
    meta.push(el("span", { class: "ticks", "data-status": m.deliveryStatus, title: label },
      el("span", { "aria-hidden": "true", text: glyph }), el("span", { class: "visually-hidden", text: label })));
  }
  parts.push(el("span", { class: "meta" }, meta));
  if (outgoing && (m.deliveryStatus === "failed" || m.deliveryStatus === "undelivered")) {
    parts.push(el("p", { class: "failed", text: `Not delivered: ${m.errorMessage || m.errorCode || "unknown error"}` }));
  }
  return el("li", { class: `message ${outgoing ? "out" : "in"}`, "data-id": m.id, "data-author": author,
    "data-status": m.deliveryStatus },
    el("div", { class: "bubble" }, parts));
}

const NEXT_LABELS = {
  PREPARING: "Start preparing", OUT_FOR_DELIVERY: "Out for delivery", READY: "Ready for pickup",
  DELIVERED: "Delivered", CANCELLED: "Cancel order",
};
const STATUS_LABELS = {
  CONFIRMED: "Confirmed", PREPARING: "Preparing", OUT_FOR_DELIVERY: "Out for delivery", READY: "Ready",
  DELIVERED: "Delivered", CANCELLED: "Cancelled",
};

function renderOrders() {
  const orders = [...state.orders.values()].sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt));
  const focused = document.activeElement;
  const focusKey = focused?.dataset?.orderId ? `${focused.dataset.orderId}|${focused.dataset.status ?? "chat"}` : null;
  $("orders").replaceChildren(...orders.map(orderNode));
  if (focusKey) {
    const [orderId, status] = focusKey.split("|");
    const again = [...document.querySelectorAll("#orders button")].find((b) =>
      b.dataset.orderId === orderId && (b.dataset.status ?? "chat") === status);
    (again ?? $("orders-title")).focus?.({ preventScroll: true });
  }
  $("orders-empty").hidden = orders.length > 0;
  $("more-orders").hidden = !state.ordersPage.hasNext;
  const count = $("orders-count");
  count.hidden = orders.length === 0;
  count.textContent = String(orders.length);
}

function orderNode(o) {
  const titleId = `order-${o.id}`;
  const where = o.orderType === "DELIVERY" ? (o.deliveryAddress ? `Delivery to ${o.deliveryAddress}` : "Delivery") : "Pickup";
  const lines = (o.lines ?? []).map((line) => el("li", {},
    el("span", { class: "qty", text: `${line.quantity} ×` }),
    el("span", { class: "item" }, el("span", { text: line.nameEn }),
      line.nameAr ? el("span", { class: "ar", dir: "rtl", lang: "ar", text: line.nameAr }) : null,
      line.options?.length ? el("span", { class: "options", text: line.options.map((o) => o.nameEn || o.nameAr).join(", ") }) : null),
    el("span", { class: "amount", text: money(line.lineTotal, o.currency) })));
  const actions = (o.nextStatuses ?? []).map((status) => el("button", {
    type: "button", class: status === "CANCELLED" ? "danger" : "", "data-order-id": o.id, "data-status": status,
    "aria-describedby": titleId, text: NEXT_LABELS[status] ?? status,
  }));
  actions.push(el("button", { type: "button", class: "secondary", "data-order-id": o.id, "data-chat": o.conversationId,
    "aria-describedby": titleId, text: "Open chat" }));
  return el("li", { class: "order", "data-id": o.id, "data-status": o.status },
    el("article", { "aria-labelledby": titleId },
      el("header", {},
        el("h3", { id: titleId, text: `Order ${o.reference}` }),
        el("span", { class: `status s-${o.status.toLowerCase()}`, text: STATUS_LABELS[o.status] ?? o.status }),
        el("time", { datetime: o.createdAt, text: formatTime(o.createdAt) })),
      el("p", { class: "customer" }, el("bdi", { text: o.customerName || o.customerPhone }),
        ` · ${where} · ${o.paymentMethod === "CASH" ? "cash" : "paid online"}`),
      el("p", { class: "branch" }, o.branch
        ? ["Branch: ", el("bdi", { text: o.branch.nameEn }),
          o.branch.nameAr ? el("span", { class: "ar", dir: "rtl", lang: "ar", text: ` ${o.branch.nameAr}` }) : null]
        : (o.branchId ? "Branch: …" : "No branch yet: assign one")),
      o.deliveryLatitude != null ? el("p", { class: "hint" }, osmLink(o.deliveryLatitude, o.deliveryLongitude,
        "Delivery location on OpenStreetMap")) : null,
      lines.length ? el("ul", { class: "lines" }, lines) : el("p", { class: "hint", text: "Loading lines…" }),
      el("p", { class: "total" }, el("span", { text: "Total" }), el("strong", { text: money(o.total, o.currency) })),
      el("div", { class: "actions" }, actions)));
}

// ---------------------------------------------------------------------------------------------
// Notifications: the bell's list, a short sound and a browser notification for each new one

const NOTIFICATIONS_PAGE = 20;
const FRESH_MS = 2 * 60 * 1000; // a replayed notification older than this is listed, not sounded
const alerts = { sounds: 0, shown: 0 };
let audio = null;

function mergeNotification(incoming) {
  const known = state.notifications.has(incoming.id);
  const notification = { ...state.notifications.get(incoming.id), ...incoming };
  delete notification.cursor;
  delete notification.__typename;
  state.notifications.set(notification.id, notification);
  changed.notifications = true;
  return !known;
}

async function loadNotifications() {
  const data = await gql(Q_NOTIFICATIONS, { first: NOTIFICATIONS_PAGE, after: null });
  // A read after the first may be the first to see a new one (it can overtake its event): it rings
  // then, and the event finds it known. The first read lists what was there before the page.
  const ring = state.notificationsLoaded;
  for (const node of data.notifications.nodes) {
    if (mergeNotification(node) && ring && !node.read) alertStaff(node);
  }
  state.notificationsLoaded = true;
  state.unreadNotifications = data.notifications.unreadCount;
  changed.notifications = true;
}

async function markNotificationsRead(ids) {
  try {
    const data = await gql(M_NOTIFICATIONS_READ, { ids, all: ids === null });
    const result = data.markNotificationsRead;
    if (result.__typename !== "NotificationsRead") return announce(result.message);
    for (const n of state.notifications.values()) if (ids === null || ids.includes(n.id)) n.read = true;
    state.unreadNotifications = result.unreadCount;
    changed.notifications = true;
    render();
  } catch (error) {
    announce(error.message);
  }
}

function alertStaff(notification) {
  if (Date.now() - Date.parse(notification.createdAt) > FRESH_MS) return;
  announce(`${notification.title}: ${notification.body}`);
  beep();
  if ("Notification" in window && Notification.permission === "granted") {
    try {
      const shown = new Notification(notification.title, { body: notification.body, tag: notification.id });
      shown.onclick = () => {
        window.focus();
        const conversationId = notification.metadata?.conversationId;
        if (conversationId) openConversation(conversationId, { focus: true });
      };
      alerts.shown += 1;
    } catch (error) {
      console.warn("no browser notification", error);
    }
  }
}

// Two short tones from an oscillator: no sound file to load.
function beep() {
  if (!audio) return;
  try {
    if (audio.state === "suspended") audio.resume().catch(() => {});
    const gain = audio.createGain();
    gain.connect(audio.destination);
    const start = audio.currentTime;
    gain.gain.setValueAtTime(0.0001, start);
    gain.gain.exponentialRampToValueAtTime(0.2, start + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.35);
    for (const [frequency, at] of [[880, 0], [1320, 0.15]]) {
      const tone = audio.createOscillator();
      tone.type = "sine";
      tone.frequency.value = frequency;
      tone.connect(gain);
      tone.start(start + at);
      tone.stop(start + at + 0.18);
    }
    alerts.sounds += 1;
  } catch (error) {
    console.warn("no sound", error);
  }
}

function renderNotifications() {
  const unread = state.unreadNotifications;
  const count = $("bell-count");
  count.hidden = unread === 0;
  count.textContent = String(unread);
  $("bell").setAttribute("aria-label", unread ? `Notifications, ${unread} unread` : "Notifications");
  const newest = [...state.notifications.values()]
    .sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt) || (a.id < b.id ? 1 : -1))
    .slice(0, NOTIFICATIONS_PAGE * 2);
  $("notifications").replaceChildren(...newest.map((n) => el("li", { class: "notification", "data-kind": n.kind },
    el("button", { type: "button", class: n.read ? "read" : "unread", "data-notification-id": n.id },
      el("strong", { text: n.title }),
      el("bdi", { class: "body", text: n.body }),
      el("time", { datetime: n.createdAt, text: formatTime(n.createdAt) })))));
  $("notifications-empty").hidden = newest.length > 0;
}

// ---------------------------------------------------------------------------------------------
// Connection state and announcements

const CONNECTION_TEXT = { idle: "Not connected", connecting: "Connecting…", live: "Live",
  reconnecting: "Reconnecting…" };

function setConnection(kind, text) {
  state.connection = kind;
  const node = $("connection");
  node.dataset.state = kind;
  const label = text ?? CONNECTION_TEXT[kind] ?? kind;
  if ($("connection-text").textContent !== label) $("connection-text").textContent = label;
}

function announce(text) {
  const node = $("announcer");
  node.textContent = "";
  setTimeout(() => { node.textContent = text; }, 50);
}

function announceMessage(message) {
  const conversation = state.conversations.get(message.conversationId);
  const who = conversation ? displayName(conversation) : "a customer";
  announce(`New message from ${who}: ${message.content || message.messageType}`);
}

// ---------------------------------------------------------------------------------------------
// Panes (one at a time on a phone-width screen)

function showView(view) {
  document.body.dataset.view = view;
  for (const button of document.querySelectorAll(".panes-nav button")) {
    if (button.dataset.show === view) button.setAttribute("aria-current", "true");
    else button.removeAttribute("aria-current");
  }
}

const narrow = () => window.matchMedia("(max-width: 1023px)").matches;

// ---------------------------------------------------------------------------------------------
// Signing in, choosing a restaurant

async function signIn(token) {
  const error = $("signin-error");
  error.textContent = "";
  state.token = token;
  state.restaurantId = null;
  let restaurants;
  try {
    restaurants = (await gql(Q_RESTAURANTS)).restaurants;
  } catch (e) {
    state.token = null;
    showSignIn(e.code === "UNAUTHENTICATED" || e.code === "FORBIDDEN" ? "That token was refused." : e.message);
    return;
  }
  if (!restaurants.length) {
    state.token = null;
    showSignIn("This token may not act for any restaurant.");
    return;
  }
  STORE.setItem(KEY_TOKEN, token);
  state.restaurants = restaurants;
  const remembered = STORE.getItem(KEY_RESTAURANT);
  if (restaurants.some((r) => r.id === remembered)) openRestaurant(remembered);
  else if (restaurants.length === 1) openRestaurant(restaurants[0].id);
  else showPicker();
}

function showSignIn(message = "") {
  $("signin").hidden = false;
  $("signin-form").hidden = false;
  $("pick-form").hidden = true;
  $("app").hidden = true;
  $("sign-out").hidden = true;
  $("bell-wrap").hidden = true;
  $("open-templates").hidden = true;
  $("pages-nav").hidden = true;
  $("page").hidden = true;
  $("templates").close?.();
  $("restaurant-switch").hidden = true;
  $("restaurant-name").hidden = true;
  $("restaurant-bot").hidden = true;
  $("restaurant-open").hidden = true;
  $("signin-error").textContent = message;
  $("token").value = "";
  $("token").focus();
}

function showPicker() {
  $("signin").hidden = false;
  $("signin-form").hidden = true;
  $("pick-form").hidden = false;
  $("sign-out").hidden = false;
  const select = $("pick-restaurant");
  select.replaceChildren(...state.restaurants.map((r) => el("option", { value: r.id, text: r.name })));
  select.focus();
}

function openRestaurant(restaurantId) {
  stopStream();
  const { token, restaurants } = state;
  Object.assign(state, freshState(), { token, restaurants, restaurantId });
  listNodes.clear();
  messageNodes.clear();
  state.cursor = STORE.getItem(cursorKey(restaurantId));
  STORE.setItem(KEY_RESTAURANT, restaurantId);
  $("status-filter").value = state.list.status;
  $("search").value = "";
  $("signin").hidden = true;
  $("app").hidden = false;
  $("sign-out").hidden = false;
  Object.assign(changed, { header: true, list: true, chat: true, orders: true, notifications: true });
  $("bell-wrap").hidden = false;
  $("open-templates").hidden = false;
  showView("list");
  $("pages-nav").hidden = false;
  showPage(new URLSearchParams(location.hash.slice(1)).get("page") || "inbox");
  render();
  synchronize(); // at once, over HTTP: the page is useful even before (or without) the socket
  startStream();
  const wanted = new URLSearchParams(location.hash.slice(1)).get("conversation");
  if (wanted) openConversation(wanted);
}

function signOut(message = "") {
  stopStream();
  setConnection("idle");
  STORE.removeItem(KEY_TOKEN);
  STORE.removeItem(KEY_RESTAURANT);
  Object.assign(state, freshState());
  listNodes.clear();
  messageNodes.clear();
  history.replaceState(null, "", location.pathname);
  showSignIn(message);
}

// ---------------------------------------------------------------------------------------------
// The owner's pages (pages.js): shown in place of the inbox, which keeps listening meanwhile

const INBOX = "inbox";
let currentPage = null; // the page module shown, or null for the inbox itself

const pageApi = Object.freeze({
  gql, el, money, formatTime, dayLabel, duration, timeZone, restaurant, announce, ApiError,
  restaurantId: () => state.restaurantId,
  openConversation(id) {
    showPage(INBOX);
    openConversation(id, { focus: true });
  },
});

function renderPagesNav() {
  const nav = $("pages-nav");
  if (nav.childElementCount) return;
  for (const { id, title } of [{ id: INBOX, title: "Inbox" }, ...PAGES]) {
    nav.append(el("button", { type: "button", class: "secondary", "data-page": id, text: title,
      onclick: () => showPage(id, { focus: true }) }));
  }
}

function showPage(id, { focus = false } = {}) {
  renderPagesNav();
  const page = PAGES.find((p) => p.id === id) ?? null;
  currentPage = page;
  for (const button of $("pages-nav").querySelectorAll("button")) {
    if (button.dataset.page === (page?.id ?? INBOX)) button.setAttribute("aria-current", "page");
    else button.removeAttribute("aria-current");
  }
  const params = new URLSearchParams(location.hash.slice(1));
  if (page) params.set("page", page.id);
  else params.delete("page");
  const hash = params.toString();
  history.replaceState(null, "", hash ? `#${hash}` : location.pathname);
  $("app").hidden = Boolean(page);
  $("page").hidden = !page;
  if (!page) return;
  $("page-title").textContent = page.title;
  const root = $("page-root");
  root.replaceChildren();
  root.dataset.page = page.id;
  try {
    const mounted = page.mount(root, pageApi);
    if (mounted?.catch) mounted.catch((e) => showPageError(root, e));
  } catch (e) {
    showPageError(root, e);
  }
  if (focus) $("page-title").focus();
}

function showPageError(root, e) {
  root.append(el("p", { class: "error", role: "alert", text: e?.message || "This page could not be shown." }));
}

function pageEvent(entity, kind) {
  if (!currentPage?.onEvent) return;
  try {
    currentPage.onEvent(entity, kind);
  } catch (e) {
    console.error(`${currentPage.id}: live update failed`, e);
  }
}

// ---------------------------------------------------------------------------------------------
// Wiring

function wire() {
  $("bell").addEventListener("click", () => {
    const open = $("notifications-panel").hidden;
    $("notifications-panel").hidden = !open;
    $("bell").setAttribute("aria-expanded", String(open));
    // Asked on a click (browsers only ask from a user's gesture), once.
    if (open && "Notification" in window && Notification.permission === "default") {
      Notification.requestPermission().catch(() => {});
    }
  });
  $("notifications-read-all").addEventListener("click", () => markNotificationsRead(null));
  $("notifications").addEventListener("click", (event) => {
    const item = event.target.closest("button[data-notification-id]");
    if (!item) return;
    const notification = state.notifications.get(item.dataset.notificationId);
    if (notification && !notification.read) markNotificationsRead([notification.id]);
    const conversationId = notification?.metadata?.conversationId;
    $("notifications-panel").hidden = true;
    $("bell").setAttribute("aria-expanded", "false");
    if (conversationId) openConversation(conversationId, { focus: true });
  });
  // Sound needs an AudioContext started by a user's gesture: made on the first one.
  const unlock = () => {
    if (!audio && (window.AudioContext || window.webkitAudioContext)) {
      audio = new (window.AudioContext || window.webkitAudioContext)();
    }
  };
  document.addEventListener("pointerdown", unlock, { once: true, capture: true });
  document.addEventListener("keydown", unlock, { once: true, capture: true });
  $("signin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $("token").value.trim().replace(/^bearer\s+/i, "");
    if (!token) {
      $("signin-error").textContent = "Paste a token first.";
      return;
    }
    signIn(token);
  });
  $("pick-form").addEventListener("submit", (event) => {
    event.preventDefault();
    openRestaurant($("pick-restaurant").value);
  });
  $("restaurant-select").addEventListener("change", (event) => {
    history.replaceState(null, "", location.pathname);
    openRestaurant(event.target.value);
  });
  $("sign-out").addEventListener("click", () => signOut());
  setStatsOpen(!narrow());
  $("stats-toggle").addEventListener("click", () =>
    setStatsOpen($("stats-toggle").getAttribute("aria-expanded") !== "true"));

  $("status-filter").addEventListener("change", (event) => {
    state.list.status = event.target.value;
    reloadList().catch((e) => announce(e.message));
  });
  let searchTimer = null;
  $("search").addEventListener("input", (event) => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => {
      state.list.search = event.target.value.trim();
      reloadList().catch((e) => announce(e.message));
    }, 300);
  });
  $("filters").addEventListener("submit", (event) => event.preventDefault());

  const list = $("conversations");
  list.addEventListener("click", (event) => {
    const button = event.target.closest("button.conversation");
    if (button) openConversation(button.dataset.id, { focus: narrow() });
  });
  list.addEventListener("keydown", (event) => {
    const buttons = [...list.querySelectorAll("button.conversation")];
    const index = buttons.indexOf(document.activeElement);
    if (index < 0) return;
    const target = { ArrowDown: index + 1, ArrowUp: index - 1, Home: 0, End: buttons.length - 1 }[event.key];
    if (target === undefined) return;
    event.preventDefault();
    buttons[Math.max(0, Math.min(buttons.length - 1, target))]?.focus();
    if (event.key === "ArrowDown" && index >= buttons.length - 2) loadMoreConversations();
  });
  $("more-conversations").addEventListener("click", () => loadMoreConversations());
  new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) loadMoreConversations();
  }, { root: null, rootMargin: "200px" }).observe($("more-conversations"));

  $("back").addEventListener("click", () => {
    const id = state.openId;
    showView("list");
    list.querySelector(`button[data-id="${CSS.escape(id ?? "")}"]`)?.focus();
  });
  $("older").addEventListener("click", () => loadOlderMessages());
  $("messages").addEventListener("scroll", (event) => {
    if (event.target.scrollTop < 80) loadOlderMessages();
  }, { passive: true });

  $("toggle-bot").addEventListener("click", () => act(async () => {
    const c = state.conversations.get(state.openId);
    return runConversationMutation(M_BOT, "setConversationBotActive", { id: c.id, active: !c.isBotActive });
  }));
  $("toggle-status").addEventListener("click", () => act(async () => {
    const c = state.conversations.get(state.openId);
    return c.status === "CLOSED"
      ? runConversationMutation(M_REOPEN, "reopenConversation", { id: c.id })
      : runConversationMutation(M_CLOSE, "closeConversation", { id: c.id });
  }));
  $("mark-read").addEventListener("click", () => act(() =>
    runConversationMutation(M_MARK_READ, "markConversationRead", { id: state.openId })));

  const body = $("reply-body");
  body.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      $("reply").requestSubmit();
    }
  });
  $("attach").addEventListener("click", () => $("attach-file").click());
  $("attach-file").addEventListener("change", () => {
    const file = $("attach-file").files[0];
    $("attach-name").textContent = file ? `Attached: ${file.name} (Send to send it)` : "";
  });
  $("reply").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = body.value.trim();
    const error = $("reply-error");
    const file = $("attach-file").files[0] ?? null;
    error.textContent = "";
    if ((!text && !file) || !state.openId) {
      error.textContent = text || file ? "" : "Write a message first.";
      return;
    }
    const send = $("send");
    send.disabled = true;
    try {
      const mediaUrl = file ? (await uploadMedia(file)).sendUrl : null;
      const result = (await gql(M_SEND, { id: state.openId, body: text, mediaUrl })).sendMessage;
      if (result.__typename === "Message") {
        body.value = "";
        $("attach-file").value = "";
        $("attach-name").textContent = "";
        chatScroll.toBottom = true;
        mergeMessage(result);
        render();
      } else {
        error.textContent = result.message;
      }
    } catch (e) {
      error.textContent = e.message;
    } finally {
      send.disabled = false;
      body.focus();
    }
  });

  $("orders").addEventListener("click", async (event) => {
    const button = event.target.closest("button");
    if (!button) return;
    if (button.dataset.chat) {
      openConversation(button.dataset.chat, { focus: true });
      return;
    }
    const status = button.dataset.status;
    if (status === "CANCELLED" && button.dataset.confirm !== "yes") {
      button.dataset.confirm = "yes";
      button.textContent = "Confirm cancel";
      setTimeout(() => {
        if (button.isConnected) {
          delete button.dataset.confirm;
          button.textContent = NEXT_LABELS.CANCELLED;
        }
      }, 5_000);
      return;
    }
    button.disabled = true;
    $("orders-error").textContent = "";
    try {
      const result = (await gql(M_ORDER_STATUS, { id: button.dataset.orderId, status })).updateOrderStatus;
      if (result.__typename === "Order") {
        mergeOrder(result);
        announce(`Order ${result.reference}: ${STATUS_LABELS[result.status]}. The customer is told on WhatsApp.`);
        render();
      } else {
        $("orders-error").textContent = result.message;
      }
    } catch (e) {
      $("orders-error").textContent = e.message;
    } finally {
      button.disabled = false;
    }
  });
  $("more-orders").addEventListener("click", () => loadMoreOrders().catch((e) => announce(e.message)));
  $("open-order-history").addEventListener("click", () => showPage("orders", { focus: true }));

  for (const button of document.querySelectorAll(".panes-nav button")) {
    button.addEventListener("click", () => showView(button.dataset.show));
  }
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && narrow() && document.body.dataset.view === "chat") $("back").click();
  });
  // The 24-hour window closes by itself: look again every minute.
  setInterval(() => {
    if (state.openId) {
      changed.chat = true;
      render();
    }
  }, 60_000);
}

// ---------------------------------------------------------------------------------------------
// WhatsApp templates: the library (a dialog) and the picker of a conversation outside the window

const TEMPLATE_STATUS = { DRAFT: "Draft", PENDING: "Waiting for WhatsApp's review", APPROVED: "Approved",
  REJECTED: "Rejected" };
const placeholders = (body) => [...new Set([...body.matchAll(/\{\{\s*(\d+)\s*\}\}/g)].map((m) => Number(m[1])))]
  .sort((a, b) => a - b);
const renderTemplate = (body, values) => body.replace(/\{\{\s*(\d+)\s*\}\}/g, (all, n) => values[n - 1] || all);

async function loadTemplates() {
  const data = await gql(Q_TEMPLATES);
  state.templates = { list: data.templates, followUp: data.templateSettings.followUp?.id ?? null,
    orderStatus: data.templateSettings.orderStatus?.id ?? null };
  renderTemplates();
  return state.templates;
}

function templateNode(t) {
  const status = el("span", { class: `template-status ${t.status.toLowerCase()}`, text: TEMPLATE_STATUS[t.status] });
  const lines = [el("p", { class: "template-body", dir: "auto", text: t.body })];
  if (t.footer) lines.push(el("p", { class: "hint", dir: "auto", text: t.footer }));
  if (t.status === "REJECTED" && t.rejectionReason) {
    lines.push(el("p", { class: "failed", text: `WhatsApp's reason: ${t.rejectionReason}` }));
  }
  if (t.syncError && t.status === "PENDING") lines.push(el("p", { class: "warning", text: `Twilio: ${t.syncError}` }));
  return el("li", { class: "template", "data-id": t.id, "data-status": t.status },
    el("div", { class: "template-head" },
      el("strong", { text: t.name }), el("span", { class: "hint", text: ` ${t.language} · ${t.category}` }), status),
    lines,
    el("p", { class: "hint", text: `Sent ${t.usageCount} time${t.usageCount === 1 ? "" : "s"}` }),
    el("div", { class: "form-actions" },
      el("button", { type: "button", class: "secondary", "data-edit": t.id, text: "Edit",
        "aria-label": `Edit ${t.name}` }),
      el("button", { type: "button", class: "secondary", "data-delete": t.id, text: "Delete",
        "aria-label": `Delete ${t.name}` })));
}

function renderTemplates() {
  const { list, followUp, orderStatus } = state.templates ?? { list: [] };
  $("template-list").replaceChildren(...list.map(templateNode));
  $("template-empty").hidden = list.length > 0;
  for (const [id, chosen] of [["follow-up-template", followUp], ["order-status-template", orderStatus]]) {
    $(id).replaceChildren(el("option", { value: "", text: "None (refuse outside the window)" }),
      ...list.map((t) => el("option", { value: t.id, selected: t.id === chosen,
        text: `${t.name} (${t.language}, ${TEMPLATE_STATUS[t.status].toLowerCase()})` })));
  }
  if (state.openId) {
    changed.chat = true;
    render();
  }
}

function fillTemplateForm(t = null) {
  $("template-form-title").textContent = t ? `Edit ${t.name}` : "New template";
  $("template-id").value = t?.id ?? "";
  $("template-name").value = t?.name ?? "";
  $("template-language").value = t?.language ?? "ar";
  $("template-category").value = t?.category ?? "UTILITY";
  $("template-body").value = t?.body ?? "";
  $("template-footer").value = t?.footer ?? "";
  const samples = t?.variables ?? {};
  $("template-samples").value = Object.keys(samples).sort((a, b) => a - b).map((k) => samples[k]).join("\n");
  $("template-buttons").value = (t?.buttons ?? []).map((b) => b.title).join(", ");
  $("template-error").textContent = "";
}

async function saveTemplate() {
  const id = $("template-id").value;
  const samples = $("template-samples").value.split("\n").map((v) => v.trim());
  const body = $("template-body").value;
  const variables = Object.fromEntries(placeholders(body).map((n) => [String(n), samples[n - 1] || `sample ${n}`]));
  const titles = $("template-buttons").value.split(",").map((v) => v.trim()).filter(Boolean);
  const input = { name: $("template-name").value.trim(), language: $("template-language").value,
    category: $("template-category").value, body, footer: $("template-footer").value.trim(), variables,
    buttons: titles.map((title) => ({ title })) };
  const result = id
    ? (await gql(M_UPDATE_TEMPLATE, { id, input })).updateTemplate
    : (await gql(M_CREATE_TEMPLATE, { input })).createTemplate;
  if (result.__typename !== "Template") return result.message;
  fillTemplateForm();
  await loadTemplates();
  announce(`Template ${result.name} saved and sent for WhatsApp's review.`);
  return null;
}

function showTemplatePicker(outside) {
  const form = $("template-send");
  form.hidden = !outside;
  if (!outside) return;
  if (!state.templates) {
    state.templates = { list: [], followUp: null, orderStatus: null }; // once: loadTemplates fills it in
    loadTemplates().catch((e) => { $("template-send-error").textContent = e.message; });
    return;
  }
  const approved = state.templates.list.filter((t) => t.status === "APPROVED");
  const pick = $("template-pick");
  const previous = pick.value;
  pick.replaceChildren(...approved.map((t) => el("option", { value: t.id, text: `${t.name} (${t.language})` })));
  if (approved.some((t) => t.id === previous)) pick.value = previous;
  $("template-send-button").disabled = approved.length === 0;
  if (!approved.length) {
    $("template-variables").replaceChildren();
    $("template-preview").textContent = "No approved template yet: add one under Templates.";
    return;
  }
  renderTemplateVariables();
}

function renderTemplateVariables() {
  const t = state.templates?.list.find((x) => x.id === $("template-pick").value);
  const box = $("template-variables");
  if (!t) return;
  if (box.dataset.template !== t.id) {
    box.dataset.template = t.id;
    box.replaceChildren(...placeholders(t.body).map((n) => el("label", {},
      el("span", { text: `{{${n}}}` }), el("input", { "data-variable": n, dir: "auto", required: true }))));
  }
  const values = [...box.querySelectorAll("input")].map((input) => input.value);
  $("template-preview").textContent = renderTemplate(t.body, values) + (t.footer ? `\n\n${t.footer}` : "");
}

function wireTemplates() {
  const dialog = $("templates");
  $("open-templates").addEventListener("click", () => {
    fillTemplateForm();
    dialog.showModal();
    loadTemplates().catch((e) => { $("template-error").textContent = e.message; });
  });
  $("close-templates").addEventListener("click", () => dialog.close());
  $("template-reset").addEventListener("click", () => fillTemplateForm());
  $("template-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const save = $("template-save");
    save.disabled = true;
    try {
      $("template-error").textContent = (await saveTemplate()) ?? "";
    } catch (e) {
      $("template-error").textContent = e.message;
    } finally {
      save.disabled = false;
    }
  });
  $("template-list").addEventListener("click", async (event) => {
    const button = event.target.closest("button");
    if (!button) return;
    const t = state.templates?.list.find((x) => x.id === (button.dataset.edit ?? button.dataset.delete));
    if (!t) return;
    if (button.dataset.edit) {
      fillTemplateForm(t);
      $("template-name").focus();
      return;
    }
    if (button.dataset.confirm !== "yes") {
      button.dataset.confirm = "yes";
      button.textContent = "Confirm delete";
      return;
    }
    try {
      const result = (await gql(M_DELETE_TEMPLATE, { id: t.id })).deleteTemplate;
      if (result.__typename !== "TemplateDeleted") $("template-error").textContent = result.message;
      await loadTemplates();
    } catch (e) {
      $("template-error").textContent = e.message;
    }
  });
  $("template-settings").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const result = (await gql(M_TEMPLATE_SETTINGS, { followUp: $("follow-up-template").value || null,
        orderStatus: $("order-status-template").value || null })).setTemplateSettings;
      if (result.__typename !== "TemplateSettings") $("template-error").textContent = result.message;
      else announce("Template choices saved.");
      await loadTemplates();
    } catch (e) {
      $("template-error").textContent = e.message;
    }
  });
  $("template-pick").addEventListener("change", () => renderTemplateVariables());
  $("template-variables").addEventListener("input", () => renderTemplateVariables());
  $("template-send").addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = $("template-send-error");
    error.textContent = "";
    const variables = [...$("template-variables").querySelectorAll("input")].map((input) => input.value.trim());
    if (variables.some((v) => !v)) {
      error.textContent = "Fill every variable first.";
      return;
    }
    const button = $("template-send-button");
    button.disabled = true;
    try {
      const result = (await gql(M_SEND_TEMPLATE, { id: state.openId, templateId: $("template-pick").value,
        variables })).sendTemplate;
      if (result.__typename === "Message") {
        for (const input of $("template-variables").querySelectorAll("input")) input.value = "";
        renderTemplateVariables();
        chatScroll.toBottom = true;
        mergeMessage(result);
        render();
      } else {
        error.textContent = result.message;
      }
    } catch (e) {
      error.textContent = e.message;
    } finally {
      button.disabled = false;
    }
  });
}

async function act(fn) {
  const error = $("reply-error");
  error.textContent = "";
  try {
    const message = await fn();
    if (message) error.textContent = message;
  } catch (e) {
    error.textContent = e.message;
  }
}

wire();
wireTemplates();
const savedToken = STORE.getItem(KEY_TOKEN);
if (savedToken) signIn(savedToken);
else showSignIn();
