//! [`TokenManager`]: refreshes OAuth tokens ahead of expiry, single-flight.
