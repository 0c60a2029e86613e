//! Storage on sqlx: SQLite by default, PostgreSQL for several replicas.
