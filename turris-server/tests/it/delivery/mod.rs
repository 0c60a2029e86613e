//! Webhook delivery in the server: outbox, leases, retries, debounce and restarts.
