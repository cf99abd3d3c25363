//! Shared test support.

pub mod oidc;
