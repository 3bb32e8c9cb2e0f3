"""The GraphQL API: the dashboard's main interface (queries, mutations, subscriptions)."""
