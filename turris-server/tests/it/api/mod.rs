//! The HTTP API suite. Every test runs on SQLite and on PostgreSQL (`api_test!`), against the
//! real server on `127.0.0.1:0` with the HubSpot sandbox in place of HubSpot.

mod admin;
mod basics;
mod integrations;
mod isolation;
mod openapi;
mod permissions;
mod planted_secrets;
mod records;
mod secrets;
mod webhooks;
mod workers;
