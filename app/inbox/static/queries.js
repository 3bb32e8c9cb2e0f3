// The GraphQL documents of the inbox: every one is checked against schema.graphql by
// tests/browser/test_inbox.py (the page is built on the public API and nothing else).

export const CONVERSATION = `id botId customerPhone customerName status lastMessageAt lastInboundAt unreadCount
  isBotActive waitingForStaff createdAt updatedAt`;
export const MESSAGE = `id conversationId direction author messageType content mediaUrls deliveryStatus errorCode
  errorMessage metadata createdAt`;
export const ORDER = `id reference conversationId customerPhone customerName orderType deliveryAddress
  deliveryLatitude deliveryLongitude paymentMethod subtotal total currency status createdAt updatedAt
  nextStatuses branchId`;
export const LINES = `lines { lineNo nameAr nameEn quantity unitPrice lineTotal options { nameAr nameEn } } branch { id nameAr nameEn }`;
export const NOTIFICATION = `id kind title body metadata read createdAt`;
export const RESTAURANT = `id name currency timezone botEnabled
  orderingState orderingStateUntil openStatus nextOpensAt closesAt closedNote`; // opening: the header's state
export const FAILURES = `... on NotFoundError { message } ... on ForbiddenError { message }
  ... on ValidationError { message }`;

export const Q_RESTAURANTS = `query Restaurants { restaurants { ${RESTAURANT} } }`;
export const Q_CONVERSATIONS = `query Conversations($status: ConversationStatus, $search: String, $first: Int!,
  $after: String) {
  conversations(status: $status, search: $search, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    nodes { ${CONVERSATION} lastMessage { id conversationId direction author content messageType createdAt } }
  }
}`;
// The list's count alone, read again when a conversation event may have changed it.
export const Q_CONVERSATION_COUNT = `query ConversationCount($status: ConversationStatus, $search: String) {
  conversations(status: $status, search: $search, first: 1) { totalCount }
}`;
export const Q_CONVERSATION = `query Conversation($id: ID!, $last: Int!, $before: String) {
  conversation(id: $id) {
    ${CONVERSATION} bot { name whatsappNumber }
    messages(last: $last, before: $before) { pageInfo { hasPreviousPage startCursor } nodes { ${MESSAGE} } }
  }
}`;
export const Q_ORDERS = `query Orders($status: [OrderStatus!], $first: Int!, $after: String) {
  orders(status: $status, first: $first, after: $after) { hasNextPage endCursor nodes { ${ORDER} ${LINES} } }
}`;
export const Q_ORDER = `query Order($id: ID!) { order(id: $id) { ${ORDER} ${LINES} } }`;
export const Q_STATS = `query Stats { stats { totalConversations activeConversations totalUnread waitingForStaff
  messagesToday medianFirstResponseSeconds } }`;

export const Q_NOTIFICATIONS = `query Notifications($first: Int!, $after: String) {
  notifications(first: $first, after: $after) { unreadCount hasNextPage endCursor nodes { ${NOTIFICATION} } }
}`;
export const M_NOTIFICATIONS_READ = `mutation NotificationsRead($ids: [ID!], $all: Boolean!) {
  markNotificationsRead(ids: $ids, all: $all) {
    __typename ... on NotificationsRead { updatedCount unreadCount } ... on ValidationError { message }
  }
}`;

export const conversationMutation = (field, args = "", params = "") => `mutation($id: ID!${params}) {
  ${field}(id: $id${args}) { __typename ... on Conversation { ${CONVERSATION} } ${FAILURES} }
}`;
export const M_MARK_READ = conversationMutation("markConversationRead");
export const M_CLOSE = conversationMutation("closeConversation");
export const M_REOPEN = conversationMutation("reopenConversation");
export const M_BOT = conversationMutation("setConversationBotActive", ", active: $active", ", $active: Boolean!");
export const M_SEND = `mutation Send($id: ID!, $body: String!, $mediaUrl: String) {
  sendMessage(conversationId: $id, body: $body, mediaUrl: $mediaUrl) {
    __typename ... on Message { ${MESSAGE} } ${FAILURES} ... on OutsideCustomerWindowError { message }
  }
}`;
export const M_ORDER_STATUS = `mutation Move($id: ID!, $status: OrderStatus!) {
  updateOrderStatus(id: $id, status: $status) {
    __typename ... on Order { ${ORDER} } ... on NotFoundError { message } ... on ValidationError { message }
  }
}`;
// Each event: what happened (kind), its position (cursor) and the row it names (node).
// Only plain fields here: nested ones (lines, lastMessage, bot) are read over HTTP when needed.
// Order.status is aliased: Conversation.status has another type, and one selection can't hold both.
export const S_EVENTS = `subscription Events($after: String) {
  events(after: $after) {
    kind cursor
    node {
      __typename
      ... on Message { ${MESSAGE} }
      ... on Conversation { ${CONVERSATION} }
      ... on Order { ${ORDER.replace(/\bstatus\b/, "orderStatus: status")} }
      ... on Restaurant { ${RESTAURANT} }
      ... on Bot { id }
      ... on Notification { ${NOTIFICATION} }
    }
  }
}`;

// WhatsApp templates (the Templates dialog, and the picker in a conversation outside the 24-hour window).
export const TEMPLATE = `id name friendlyName language category body footer buttons variables status
  rejectionReason syncError contentSid usageCount approvedAt updatedAt`;
export const Q_TEMPLATES = `query Templates { templates { ${TEMPLATE} }
  templateSettings { followUp { id } orderStatus { id } } }`;
export const M_CREATE_TEMPLATE = `mutation CreateTemplate($input: TemplateInput!) {
  createTemplate(input: $input) { __typename ... on Template { ${TEMPLATE} } ${FAILURES} }
}`;
export const M_UPDATE_TEMPLATE = `mutation UpdateTemplate($id: ID!, $input: TemplateInput!) {
  updateTemplate(id: $id, input: $input) { __typename ... on Template { ${TEMPLATE} } ${FAILURES} }
}`;
export const M_DELETE_TEMPLATE = `mutation DeleteTemplate($id: ID!) {
  deleteTemplate(id: $id) { __typename ... on NotFoundError { message } ... on ForbiddenError { message } }
}`;
export const M_TEMPLATE_SETTINGS = `mutation TemplateSettings($followUp: ID, $orderStatus: ID) {
  setTemplateSettings(followUpTemplateId: $followUp, orderStatusTemplateId: $orderStatus) {
    __typename ... on TemplateSettings { followUp { id } orderStatus { id } } ${FAILURES}
  }
}`;
export const M_SEND_TEMPLATE = `mutation SendTemplate($id: ID!, $templateId: ID!, $variables: [String!]!) {
  sendTemplate(conversationId: $id, templateId: $templateId, variables: $variables) {
    __typename ... on Message { ${MESSAGE} } ${FAILURES} ... on OutsideCustomerWindowError { message }
  }
}`;
