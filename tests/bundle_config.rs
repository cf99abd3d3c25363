//! Static checks of the bundle settings in tauri.conf.json (docs/RELEASE.md): the installed app
//! binary does not collide with the CLI, the .deb carries the CLI and its completions from where
//! scripts/bundle.sh puts them, and the keyring is recommended, not required. Building the bundles
//! themselves is scripts/bundle.sh (too long for CI); this only keeps the configuration honest.

use std::path::PathBuf;

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn config() -> Value {
    let text = std::fs::read_to_string(root().join("tauri.conf.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

/// The CLI's binary name, from its Cargo.toml (`[[bin]] name`, else the package name).
fn cli_binary_name() -> String {
    let text = std::fs::read_to_string(root().join("crates/apppass-cli/Cargo.toml")).unwrap();
    let mut in_bin = false;
    let mut package_name = None;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
            continue;
        }
        if let Some(value) = line.strip_prefix("name") {
            let value = value
                .trim_start()
                .trim_start_matches('=')
                .trim()
                .trim_matches('"');
            if in_bin {
                return value.to_string();
            }
            package_name.get_or_insert_with(|| value.to_string());
        }
    }
    package_name.expect("the CLI's Cargo.toml has a name")
}

#[test]
fn the_app_binary_does_not_collide_with_the_cli() {
    let config = config();
    let app = config["mainBinaryName"]
        .as_str()
        .expect("mainBinaryName is set");
    let cli = cli_binary_name();
    assert_eq!(cli, "apppass");
    assert_ne!(app, cli, "the app would overwrite /usr/bin/{cli}");
    assert_eq!(app, "apppass-desktop");
    // Without mainBinaryName the Tauri CLI names the binary after productName, which is the CLI's.
    assert_eq!(config["productName"], "apppass");
}

#[test]
fn the_deb_carries_the_cli_and_its_completions() {
    let config = config();
    let files = config["bundle"]["linux"]["deb"]["files"]
        .as_object()
        .expect("bundle.linux.deb.files");
    let expected = [
        ("/usr/bin/apppass", "target/release/apppass"),
        (
            "/usr/share/bash-completion/completions/apppass",
            "target/bundle-extra/completions/apppass.bash",
        ),
        (
            "/usr/share/zsh/vendor-completions/_apppass",
            "target/bundle-extra/completions/_apppass",
        ),
        (
            "/usr/share/fish/vendor_completions.d/apppass.fish",
            "target/bundle-extra/completions/apppass.fish",
        ),
    ];
    assert_eq!(files.len(), expected.len(), "{files:?}");
    for (dest, src) in expected {
        assert_eq!(files.get(dest).and_then(Value::as_str), Some(src), "{dest}");
    }
    // scripts/bundle.sh writes the completion files under these names.
    let script = std::fs::read_to_string(root().join("scripts/bundle.sh")).unwrap();
    for (shell, file) in [
        ("bash", "apppass.bash"),
        ("zsh", "_apppass"),
        ("fish", "apppass.fish"),
    ] {
        let line = format!("\"$cli\" completions {shell} >\"$extra/completions/{file}\"");
        assert!(script.contains(&line), "bundle.sh does not write {file}");
    }
}

#[test]
fn the_deb_depends_on_the_web_view_and_recommends_a_keyring() {
    let config = config();
    let deb = &config["bundle"]["linux"]["deb"];
    // The Tauri CLI adds libwebkit2gtk-4.1-0 and libgtk-3-0 itself (listing them here doubles them
    // in the control file); the Secret Service client needs libdbus. Any Secret Service will do
    // (and a CLI-only user may have none): the keyring is never a hard dependency.
    assert_eq!(strings(&deb["depends"]), ["libdbus-1-3"]);
    let recommends = strings(&deb["recommends"]);
    assert!(
        recommends.iter().any(|r| r.contains("gnome-keyring")),
        "{recommends:?}"
    );
}

#[test]
fn the_appimage_bundler_takes_apppass_own_tools() {
    let config = config();
    // The bundler then looks for linuxdeploy and AppRun in target/.tauri/, where
    // scripts/appimage-tools.sh puts apppass's own (crates/apppass-appimage), instead of in
    // ~/.cache/tauri/, where it would download upstream's from GitHub.
    assert_eq!(config["bundle"]["useLocalToolsDir"], Value::Bool(true));
    let script = std::fs::read_to_string(root().join("scripts/appimage-tools.sh")).unwrap();
    for name in [
        "AppRun-x86_64",
        "linuxdeploy-plugin-appimage.AppImage",
        "appimage-runtime",
    ] {
        assert!(
            script.contains(name),
            "appimage-tools.sh does not stage {name}"
        );
    }
    // apppass plays no media: no GStreamer plugins in the image.
    assert_eq!(
        config["bundle"]["linux"]["appimage"]["bundleMediaFramework"],
        Value::Bool(false)
    );
}

#[test]
fn macos_and_windows_bundles_are_configured() {
    let config = config();
    let bundle = &config["bundle"];
    assert_eq!(bundle["targets"], "all");
    assert_eq!(bundle["macOS"]["minimumSystemVersion"], "10.15");
    assert_eq!(bundle["macOS"]["hardenedRuntime"], true);
    assert_eq!(
        bundle["windows"]["webviewInstallMode"]["type"],
        "downloadBootstrapper"
    );
    assert_eq!(strings(&bundle["windows"]["wix"]["language"]), ["en-US"]);
    assert_eq!(
        strings(&bundle["windows"]["nsis"]["languages"]),
        ["English"]
    );
    let icons = strings(&bundle["icon"]);
    for needed in ["icons/icon.icns", "icons/icon.ico"] {
        assert!(icons.contains(&needed), "no {needed} for macOS/Windows");
        assert!(root().join(needed).is_file(), "{needed} is missing");
    }
}
