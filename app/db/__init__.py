"""Database access: the engine and sessions (`engine`), the embedded server (`embedded`), migrations."""
