//! Signature checks of HubSpot requests: v3 (HMAC-SHA256, timestamped), v2 and v1.
