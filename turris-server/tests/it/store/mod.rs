//! The storage suites, each test run on a fresh SQLite database and a fresh PostgreSQL one.

mod conformance;
