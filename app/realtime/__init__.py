"""Live updates: PostgreSQL is the event log (`events`), LISTEN/NOTIFY only wakes readers (`hub`)."""
