//! apppass's AppImage, built without tools from outside Debian and crates.io.
//!
//! Tauri's AppImage bundler runs linuxdeploy and puts the AppImage runtime at the head of the image;
//! both are downloaded from GitHub, which a build machine may not reach. This crate holds apppass's
//! own two parts, which `scripts/bundle.sh` puts where the bundler looks for its tools
//! (docs/RELEASE.md, "AppImage"):
//! - `appimage-deploy` stands in for linuxdeploy: it runs the bundler's GTK plugin, copies the
//!   libraries the AppDir needs (those every desktop has are left to the host, see
//!   [`deploy::host_provided`]), points their run path at the AppDir, and writes the AppImage.
//! - `appimage-runtime` is the ELF at the head of the image (a type 2 AppImage: ELF, the magic
//!   bytes `AI\x02` at offset 8, then a squashfs). It unpacks the squashfs once into the user's
//!   cache and runs `AppRun` from there; it needs no FUSE.

pub mod deploy;
pub mod elf;
pub mod image;

/// An error for the user: what went wrong and what to do, in one message.
pub fn failure(message: impl Into<String>) -> std::io::Error {
    std::io::Error::other(message.into())
}
