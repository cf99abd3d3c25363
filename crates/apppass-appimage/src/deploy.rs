//! Filling an AppDir with the libraries its programs need.

use std::path::{Component, Path, PathBuf};

/// One line of `ldd`'s output that names a library.
#[derive(Debug, PartialEq, Eq)]
pub struct Needed {
    /// The name the program asks for (its DT_NEEDED entry), e.g. `libgtk-3.so.0`.
    pub name: String,
    /// Where the host's loader finds it, or `None` if it does not.
    pub found: Option<PathBuf>,
}

/// Parses `ldd FILE` (run with `LC_ALL=C`). The vDSO and the loader itself (lines without `=>`)
/// are not libraries to copy and are left out.
pub fn parse_ldd(output: &str) -> Vec<Needed> {
    let mut needed = Vec::new();
    for line in output.lines() {
        let Some((name, rest)) = line.trim().split_once(" => ") else {
            continue;
        };
        let rest = rest.trim();
        let found = if rest.starts_with("not found") {
            None
        } else {
            // "/path/libx.so.1 (0x00007f...)"
            match rest.split_whitespace().next() {
                Some(path) if path.starts_with('/') => Some(PathBuf::from(path)),
                _ => None,
            }
        };
        needed.push(Needed {
            name: name.trim().to_string(),
            found,
        });
    }
    needed
}

/// Libraries left to the host instead of copied into the AppImage, by name before `.so`:
/// - glibc and the compiler's runtime, which every program on the host already uses (and which
///   the host's graphics drivers, loaded into the app, are built against);
/// - the graphics stack (GL, EGL, GBM, DRM, Vulkan, Wayland's client libraries), which must match
///   the host's drivers and display server;
/// - X11 and its xcb libraries, fontconfig, FreeType, HarfBuzz, Expat and zlib, which every Linux
///   desktop has, and whose configuration files belong to the host.
///
/// So the AppImage needs glibc 2.36 or newer (it is built on Debian 12) and those libraries.
pub const HOST_PROVIDED: &[&str] = &[
    "ld-linux-x86-64",
    "ld-linux-aarch64",
    "libc",
    "libm",
    "libdl",
    "libpthread",
    "librt",
    "libresolv",
    "libutil",
    "libanl",
    "libnsl",
    "libmvec",
    "libBrokenLocale",
    "libthread_db",
    "libcrypt",
    "libgcc_s",
    "libstdc++",
    "libGL",
    "libGLX",
    "libGLdispatch",
    "libOpenGL",
    "libEGL",
    "libGLESv2",
    "libgbm",
    "libdrm",
    "libvulkan",
    "libX11",
    "libX11-xcb",
    "libxcb",
    "libfontconfig",
    "libfreetype",
    "libharfbuzz",
    "libexpat",
    "libz",
];

/// Whether a library (by its file name or DT_NEEDED name) is left to the host.
pub fn host_provided(name: &str) -> bool {
    let stem = name.split(".so").next().unwrap_or(name);
    HOST_PROVIDED.contains(&stem) || stem.starts_with("libxcb-") || stem.starts_with("libwayland-")
}

/// The run path for an ELF file at `relative` (a path inside the AppDir): `$ORIGIN`, then the way
/// from the file's folder to `usr/lib`, where the deployer puts every library.
pub fn run_path(relative: &Path) -> String {
    let folder: Vec<Component> = relative
        .parent()
        .map(|p| p.components().collect())
        .unwrap_or_default();
    let lib = [
        Component::Normal("usr".as_ref()),
        Component::Normal("lib".as_ref()),
    ];
    let common = folder
        .iter()
        .zip(lib.iter())
        .take_while(|(a, b)| a == b)
        .count();
    let mut way: Vec<String> = vec!["..".to_string(); folder.len() - common];
    for part in &lib[common..] {
        way.push(part.as_os_str().to_string_lossy().into_owned());
    }
    if way.is_empty() {
        "$ORIGIN".to_string()
    } else {
        format!("$ORIGIN/{}", way.join("/"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldd_lines_give_names_and_paths() {
        let out = "\tlinux-vdso.so.1 (0x00007ffc8a1f2000)\n\
                   \tlibgtk-3.so.0 => /lib/x86_64-linux-gnu/libgtk-3.so.0 (0x00007f3a1c000000)\n\
                   \tlibmissing.so.2 => not found\n\
                   \t/lib64/ld-linux-x86-64.so.2 (0x00007f3a1d5f0000)\n";
        assert_eq!(
            parse_ldd(out),
            vec![
                Needed {
                    name: "libgtk-3.so.0".into(),
                    found: Some(PathBuf::from("/lib/x86_64-linux-gnu/libgtk-3.so.0")),
                },
                Needed {
                    name: "libmissing.so.2".into(),
                    found: None,
                },
            ]
        );
        assert!(parse_ldd("\tstatically linked\n").is_empty());
        assert!(parse_ldd("\tnot a dynamic executable\n").is_empty());
    }

    #[test]
    fn the_host_keeps_glibc_graphics_and_fonts_and_the_app_gets_the_rest() {
        for host in [
            "libc.so.6",
            "ld-linux-x86-64.so.2",
            "libstdc++.so.6",
            "libGL.so.1",
            "libEGL.so.1",
            "libxcb.so.1",
            "libxcb-shm.so.0",
            "libwayland-client.so.0",
            "libfontconfig.so.1",
            "libz.so.1",
        ] {
            assert!(host_provided(host), "{host} should be left to the host");
        }
        for bundled in [
            "libwebkit2gtk-4.1.so.0",
            "libgtk-3.so.0",
            "libsoup-3.0.so.0",
            "libharfbuzz-icu.so.0",
            "libcairo.so.2",
            "libzstd.so.1",
            "libcrypto.so.3",
            "libXrender.so.1",
        ] {
            assert!(!host_provided(bundled), "{bundled} should be bundled");
        }
    }

    #[test]
    fn run_paths_lead_to_usr_lib() {
        assert_eq!(
            run_path(Path::new("usr/bin/apppass-desktop")),
            "$ORIGIN/../lib"
        );
        assert_eq!(run_path(Path::new("usr/lib/libgtk-3.so.0")), "$ORIGIN");
        assert_eq!(
            run_path(Path::new(
                "usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/WebKitWebProcess"
            )),
            "$ORIGIN/../.."
        );
        assert_eq!(
            run_path(Path::new(
                "usr/lib/x86_64-linux-gnu/gdk-pixbuf-2.0/2.10.0/loaders/libpixbufloader-png.so"
            )),
            "$ORIGIN/../../../.."
        );
        assert_eq!(run_path(Path::new("AppRun.wrapped")), "$ORIGIN/usr/lib");
        assert_eq!(
            run_path(Path::new("opt/x/bin/y")),
            "$ORIGIN/../../../usr/lib"
        );
    }
}
