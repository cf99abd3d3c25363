//! Shared test support.

pub mod bridge;
pub mod dovecot;
pub mod faultproxy;
pub mod graph;
pub mod keyring;
pub mod memory;
pub mod node;
pub mod oidc;
