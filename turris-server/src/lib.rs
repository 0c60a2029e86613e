//! The Turris integrations reference server. Not built yet: see the open issues.
#![forbid(unsafe_code)]
