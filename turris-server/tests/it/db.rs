//! Fresh test databases: a SQLite file in a temporary folder, or a new PostgreSQL database.
