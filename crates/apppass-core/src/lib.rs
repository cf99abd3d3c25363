//! apppass core: everything apppass does, without Tauri or a UI.
//!
//! The desktop app (`src-tauri/`) and the CLI (`crates/apppass-cli`) are thin callers of this crate.

pub mod audit;
pub mod bridge;
pub mod catalog;
pub mod clock;
pub mod error;
pub mod export;
mod fsutil;
#[doc(hidden)]
pub mod fuzzing;
pub mod graph;
pub mod mailcheck;
pub mod open;
pub mod policy;
pub mod profile;
pub mod secret;
pub mod settings;
pub mod signin;
pub mod vault;
pub mod wire;

pub use error::{Code, Failure};
pub use secret::Secret;
