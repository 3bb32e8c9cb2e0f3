"""Authentication and tenancy: one layer that every edge (GraphQL, REST, sockets) goes through."""
