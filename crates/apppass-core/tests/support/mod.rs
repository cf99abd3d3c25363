//! Shared test support.

pub mod graph;
pub mod oidc;
