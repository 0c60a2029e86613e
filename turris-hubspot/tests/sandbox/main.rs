//! Tests of the HubSpot sandbox (feature `sandbox`).
