//! The storage suites, run on SQLite and on PostgreSQL.
