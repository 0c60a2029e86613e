//! The load tools' library: the seeded randomized sync simulation ([`sim`]), which the
//! `turris-sync-sim` command runs and the CI test calls.
#![forbid(unsafe_code)]

pub mod sim;
