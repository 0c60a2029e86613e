-- Queue statistics (/metrics) read only events that are not delivered; delivered ones are
-- most of the table until retention prunes them.
CREATE INDEX delivery_events_open ON delivery_events (status, next_attempt_at)
    WHERE status <> 'delivered';
