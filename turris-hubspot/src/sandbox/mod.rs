//! A stateful fake HubSpot that speaks HubSpot's HTTP API, for tests and the demo.
