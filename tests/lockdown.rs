//! The lock-down, asserted on what the app really embeds: the context from
//! `tauri::generate_context!` (tauri.conf.json merged with any platform config, the capabilities
//! resolved by tauri-build into the runtime ACL, the bundled UI), not on a hand-written copy.
//!
//! Each rule is a function returning the problems it finds. The `real_*` tests assert that the
//! built app has none; the `mutated_*` tests break a copy of the same configuration one way at a
//! time and assert that the rule reports it, so no rule can pass whatever the configuration says.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use apppass_app::context;
use tauri::ipc::Origin;
use tauri::test::MockRuntime;
use tauri::utils::acl::capability::{Capability, PermissionEntry};
use tauri::utils::config::{
    CapabilityEntry, Config, Csp, DisabledCspModificationKind, PatternKind, WebviewUrl,
};

/// The benchmarks' "painted" signal, registered always but granted only at run time.
const BENCH_COMMAND: &str = "bench_ready";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

// ---- the rules -----------------------------------------------------------------------------------

/// The CSP as directive -> sources, parsed from the policy string Tauri serves (both config forms).
fn csp_directives(csp: &Csp) -> BTreeMap<String, Vec<String>> {
    csp.to_string()
        .split(';')
        .filter_map(|d| {
            let mut words = d.split_whitespace();
            let name = words.next()?.to_ascii_lowercase();
            Some((name, words.map(str::to_string).collect()))
        })
        .collect()
}

/// A source that lets a page run or load something it did not ship: inline code, eval, or any
/// scheme/host other than the app's own origin (`'self'`), `data:` images and Tauri's IPC.
fn remote_or_unsafe(source: &str) -> bool {
    let s = source.to_ascii_lowercase();
    if s.starts_with('\'') {
        // Keywords: only 'self' and 'none' (nonces and hashes are added by Tauri at runtime).
        return !matches!(s.as_str(), "'self'" | "'none'");
    }
    // Anything else is a scheme or a host: https:, *, example.com, http://localhost:1420, ...
    true
}

/// CSP rules: set; default-src, script-src and style-src only 'self'/'none'; connect-src only the
/// IPC; no remote source anywhere except `data:` images; the dev CSP (if any) just as strict.
fn csp_problems(config: &Config) -> Vec<String> {
    let mut problems = Vec::new();
    let security = &config.app.security;
    let Some(csp) = &security.csp else {
        return vec!["no CSP: the webview would run any script a page injects".into()];
    };
    let mut policies = vec![("csp", csp)];
    if let Some(dev) = &security.dev_csp {
        policies.push(("devCsp", dev));
    }
    for (which, csp) in policies {
        let d = csp_directives(csp);
        for required in ["default-src", "script-src", "style-src", "connect-src"] {
            if !d.contains_key(required) {
                problems.push(format!("{which}: {required} missing"));
            }
        }
        for (name, sources) in &d {
            for source in sources {
                let allowed = match name.as_str() {
                    "connect-src" => {
                        source == "ipc:" || source == "http://ipc.localhost" || source == "'self'"
                    }
                    "img-src" => source == "data:" || !remote_or_unsafe(source),
                    _ => !remote_or_unsafe(source),
                };
                if !allowed {
                    problems.push(format!("{which}: {name} allows {source}"));
                }
            }
        }
        if d.get("object-src").map(Vec::as_slice) != Some(&["'none'".to_string()][..]) {
            problems.push(format!("{which}: object-src is not 'none'"));
        }
    }
    problems
}

/// Settings that weaken the webview, each off; one main window loading the app's own pages.
fn setting_problems(config: &Config) -> Vec<String> {
    let mut problems = Vec::new();
    let app = &config.app;
    let security = &app.security;
    if app.with_global_tauri {
        problems.push("withGlobalTauri is on: every page script gets window.__TAURI__".into());
    }
    if !security.freeze_prototype {
        problems.push("freezePrototype is off".into());
    }
    match &security.dangerous_disable_asset_csp_modification {
        DisabledCspModificationKind::Flag(false) => {}
        other => problems.push(format!(
            "dangerousDisableAssetCspModification is {other:?}: Tauri's nonces and hashes would be dropped"
        )),
    }
    if security.asset_protocol.enable {
        problems.push("the asset protocol is enabled: it serves files from disk".into());
    }
    if !matches!(security.pattern, PatternKind::Brownfield) {
        // Not a weakness; this rule only pins what SECURITY.md says (no isolation pattern).
        problems.push("the pattern changed: update docs/SECURITY.md".into());
    }
    if let Some(url) = &config.build.dev_url {
        problems.push(format!("devUrl {url} is set: debug builds would load it"));
    }
    let labels: Vec<&str> = app.windows.iter().map(|w| w.label.as_str()).collect();
    if labels != ["main"] {
        problems.push(format!("windows are {labels:?}, expected only main"));
    }
    for w in &app.windows {
        if !matches!(&w.url, WebviewUrl::App(p) if p.as_os_str().is_empty() || p == Path::new("index.html"))
        {
            problems.push(format!("window {} loads {:?}", w.label, w.url));
        }
        if w.devtools == Some(true) {
            problems.push(format!("window {} forces devtools on", w.label));
        }
    }
    problems
}

/// The app's commands as the invoke handler registers them (src-tauri/src/lib.rs).
fn handler_commands() -> BTreeSet<String> {
    let src = std::fs::read_to_string(root().join("src-tauri/src/lib.rs")).unwrap();
    let start = src
        .find("generate_handler![")
        .expect("lib.rs registers commands")
        + 18;
    let end = start + src[start..].find(']').unwrap();
    src[start..end]
        .split(',')
        .map(|p| p.trim().rsplit("::").next().unwrap().to_string())
        .filter(|c| !c.is_empty())
        .collect()
}

/// The commands build.rs declares to the ACL (src-tauri/build.rs, `COMMANDS`).
fn declared_commands() -> BTreeSet<String> {
    let src = std::fs::read_to_string(root().join("src-tauri/build.rs")).unwrap();
    let start = src.find("const COMMANDS").unwrap();
    let end = start + src[start..].find("];").unwrap();
    src[start..end]
        .split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The capability files exactly where build.rs reads them (`./src-tauri/capabilities/**/*`).
fn capability_files() -> Vec<(PathBuf, Capability)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let mut paths = Vec::new();
    walk(&root().join("src-tauri/capabilities"), &mut paths);
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let cap: Capability = match p.extension().and_then(|e| e.to_str()) {
                Some("json") => serde_json::from_str(&text),
                other => panic!("{}: unexpected capability file type {other:?}", p.display()),
            }
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p, cap)
        })
        .collect()
}

/// Capability rules: local pages only, the main window only, and each permission one of the
/// app's own `allow-<command>` for a command the handler registers. No core:* or plugin
/// permission is intended: the UI calls only app commands (the clipboard, the browser, the login
/// item and the window state are driven from Rust).
fn capability_problems(caps: &[Capability], commands: &BTreeSet<String>) -> Vec<String> {
    let mut problems = Vec::new();
    let allowed: BTreeSet<String> = commands
        .iter()
        .map(|c| format!("allow-{}", c.replace('_', "-")))
        .collect();
    for cap in caps {
        let id = &cap.identifier;
        if let Some(remote) = &cap.remote {
            problems.push(format!(
                "{id}: remote URLs {:?} may call commands",
                remote.urls
            ));
        }
        if !cap.local {
            problems.push(format!("{id}: not limited to local pages"));
        }
        if cap.windows != ["main"] || !cap.webviews.is_empty() {
            problems.push(format!(
                "{id}: granted to windows {:?} webviews {:?}",
                cap.windows, cap.webviews
            ));
        }
        for entry in &cap.permissions {
            let (ident, scoped) = match entry {
                PermissionEntry::PermissionRef(i) => (i, false),
                PermissionEntry::ExtendedPermission { identifier, .. } => (identifier, true),
            };
            if scoped || ident.get_prefix().is_some() || !allowed.contains(ident.get()) {
                problems.push(format!("{id}: grants {}", ident.get()));
            }
        }
    }
    problems
}

/// Every command the ACL knows (the app's and every core/plugin command linked into the app),
/// as the invoke keys the runtime checks, from the manifests tauri-build wrote for this build.
fn every_known_command() -> (BTreeSet<String>, BTreeSet<String>) {
    let path = root().join("gen/schemas/acl-manifests.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{} (written by the app's build): {e}", path.display()));
    let manifests: serde_json::Value = serde_json::from_str(&text).unwrap();
    let (mut app, mut plugins) = (BTreeSet::new(), BTreeSet::new());
    for (key, manifest) in manifests.as_object().unwrap() {
        for perm in manifest["permissions"].as_object().unwrap().values() {
            let commands = &perm["commands"];
            for cmd in commands["allow"]
                .as_array()
                .unwrap()
                .iter()
                .chain(commands["deny"].as_array().unwrap())
            {
                let cmd = cmd.as_str().unwrap();
                if key == "__app-acl__" {
                    app.insert(cmd.to_string());
                } else {
                    let plugin = key.strip_prefix("core:").unwrap_or(key);
                    plugins.insert(format!("plugin:{plugin}|{cmd}"));
                }
            }
        }
    }
    (app, plugins)
}

// ---- the built app has none of the problems ------------------------------------------------------

#[test]
fn real_csp_is_strict() {
    let ctx = context::<MockRuntime>();
    let config = ctx.config();
    assert_eq!(csp_problems(config), Vec::<String>::new());
    let d = csp_directives(config.app.security.csp.as_ref().unwrap());
    // What is there today, so that loosening it shows up in review.
    assert_eq!(d["default-src"], ["'self'"]);
    assert_eq!(d["script-src"], ["'self'"]);
    assert_eq!(d["style-src"], ["'self'"]);
    assert_eq!(d["connect-src"], ["ipc:", "http://ipc.localhost"]);
    assert_eq!(d["base-uri"], ["'none'"]);
    assert_eq!(d["form-action"], ["'none'"]);
    assert_eq!(d["frame-ancestors"], ["'none'"]);
}

#[test]
fn real_settings_are_locked_down() {
    let ctx = context::<MockRuntime>();
    assert_eq!(setting_problems(ctx.config()), Vec::<String>::new());
    assert!(matches!(ctx.pattern(), tauri::Pattern::Brownfield));
    // Platform configs would be merged into the context; there are none to review.
    for name in [
        "tauri.linux.conf.json",
        "tauri.windows.conf.json",
        "tauri.macos.conf.json",
    ] {
        assert!(!root().join(name).exists(), "{name}: review it too");
    }
}

#[test]
fn handler_build_script_and_capability_name_the_same_commands() {
    let handler = handler_commands();
    assert!(handler.len() >= 50, "parsed {handler:?}");
    assert!(handler.contains("vault_list") && handler.contains("bridge_cert_export"));
    assert_eq!(handler, declared_commands(), "lib.rs vs build.rs COMMANDS");

    let files = capability_files();
    let caps: Vec<Capability> = files.iter().map(|(_, c)| c.clone()).collect();
    assert_eq!(capability_problems(&caps, &handler), Vec::<String>::new());
    // Every command is granted (none is dead or reachable only by mistake), except the
    // benchmark's signal, which only a run-time capability grants (with APPPASS_BENCH_READY=1).
    let granted: BTreeSet<String> = caps
        .iter()
        .flat_map(|c| &c.permissions)
        .map(|p| p.identifier().get().to_string())
        .collect();
    let expected: BTreeSet<String> = handler
        .iter()
        .filter(|c| *c != BENCH_COMMAND)
        .map(|c| format!("allow-{}", c.replace('_', "-")))
        .collect();
    assert!(handler.contains(BENCH_COMMAND));
    assert!(!granted.contains("allow-bench-ready"));
    assert_eq!(granted, expected);

    // The config enables exactly these files' capabilities, none inlined.
    let ctx = context::<MockRuntime>();
    let enabled: Vec<String> = ctx
        .config()
        .app
        .security
        .capabilities
        .iter()
        .map(|c| match c {
            CapabilityEntry::Reference(id) => id.clone(),
            CapabilityEntry::Inlined(c) => panic!("inlined capability {}", c.identifier),
        })
        .collect();
    let ids: Vec<String> = caps.iter().map(|c| c.identifier.clone()).collect();
    assert_eq!(enabled, ids);
}

/// The runtime ACL built into the context: every app command reachable from the main window's
/// local pages and from nowhere else; no core or plugin command reachable from anywhere.
#[test]
fn the_embedded_acl_allows_only_the_apps_commands_to_the_main_window() {
    let mut ctx = context::<MockRuntime>();
    let acl = ctx.runtime_authority_mut();
    let (app, plugins) = every_known_command();
    assert_eq!(app, handler_commands(), "the app ACL manifest is stale");
    // Core window commands and the linked plugins are in the manifests, so they are checked.
    for must in [
        "plugin:window|close",
        "plugin:webview|create_webview_window",
        "plugin:opener|open_url",
        "plugin:autostart|enable",
        "plugin:event|emit",
        "plugin:path|resolve_directory",
    ] {
        assert!(plugins.contains(must), "{must} not in the manifests");
    }
    let remote = Origin::Remote {
        url: "https://example.com/".parse().unwrap(),
    };
    for cmd in &app {
        if cmd == BENCH_COMMAND {
            // Not in normal use: see the_benchmark_signal_is_granted_only_at_run_time.
            assert!(
                acl.resolve_access(cmd, "main", "main", &Origin::Local)
                    .is_none(),
                "{cmd} is granted by the embedded ACL"
            );
            continue;
        }
        assert!(
            acl.resolve_access(cmd, "main", "main", &Origin::Local)
                .is_some(),
            "{cmd} is not granted to main"
        );
        assert!(
            acl.resolve_access(cmd, "other", "other", &Origin::Local)
                .is_none(),
            "{cmd} granted to another window"
        );
        assert!(
            acl.resolve_access(cmd, "main", "main", &remote).is_none(),
            "{cmd} granted to a remote page"
        );
    }
    for cmd in &plugins {
        for (window, origin) in [
            ("main", &Origin::Local),
            ("main", &remote),
            ("x", &Origin::Local),
        ] {
            assert!(
                acl.resolve_access(cmd, window, window, origin).is_none(),
                "{cmd} is granted to {window} ({origin})"
            );
        }
    }
    assert!(acl
        .resolve_access("not_a_command", "main", "main", &Origin::Local)
        .is_none());
}

/// The benchmarks' "painted" signal (src-tauri/src/bench.rs): no capability file grants it; the
/// run-time capability that `run` adds with APPPASS_BENCH_READY=1 grants exactly that command to
/// the main window's local pages, and nothing else changes.
#[test]
fn the_benchmark_signal_is_granted_only_at_run_time() {
    use tauri::ipc::RuntimeCapability;
    let cap = match apppass_app::bench::capability().build() {
        tauri::utils::acl::capability::CapabilityFile::Capability(c) => c,
        _ => panic!("expected one capability"),
    };
    let only_bench: BTreeSet<String> = [BENCH_COMMAND.to_string()].into();
    assert_eq!(
        capability_problems(std::slice::from_ref(&cap), &only_bench),
        Vec::<String>::new()
    );
    let perms: Vec<&str> = cap
        .permissions
        .iter()
        .map(|p| p.identifier().get())
        .collect();
    assert_eq!(perms, ["allow-bench-ready"]);

    let mut ctx = context::<MockRuntime>();
    let acl = ctx.runtime_authority_mut();
    assert!(acl
        .resolve_access(BENCH_COMMAND, "main", "main", &Origin::Local)
        .is_none());
    acl.add_capability(apppass_app::bench::capability())
        .unwrap();
    let remote = Origin::Remote {
        url: "https://example.com/".parse().unwrap(),
    };
    assert!(acl
        .resolve_access(BENCH_COMMAND, "main", "main", &Origin::Local)
        .is_some());
    assert!(acl
        .resolve_access(BENCH_COMMAND, "other", "other", &Origin::Local)
        .is_none());
    assert!(acl
        .resolve_access(BENCH_COMMAND, "main", "main", &remote)
        .is_none());
    let (_, plugins) = every_known_command();
    for cmd in &plugins {
        assert!(
            acl.resolve_access(cmd, "main", "main", &Origin::Local)
                .is_none(),
            "{cmd} granted with the benchmark capability"
        );
    }
}

/// The UI the app embeds loads nothing from elsewhere (the CSP would block it; this catches it
/// before a user sees a broken screen).
#[test]
fn the_embedded_ui_references_no_remote_script_style_or_font() {
    let ctx = context::<MockRuntime>();
    let mut html = 0;
    for (key, bytes) in ctx.assets().iter() {
        let text = String::from_utf8_lossy(&bytes).to_ascii_lowercase();
        if key.ends_with(".html") {
            html += 1;
            for attr in ["src=", "href="] {
                for (i, _) in text.match_indices(attr) {
                    let value = text[i + attr.len()..].trim_start_matches(['"', '\'']);
                    assert!(
                        value.starts_with('/') || value.starts_with("./"),
                        "{key}: {attr}{}",
                        &value[..value.len().min(60)]
                    );
                }
            }
            assert!(!text.contains("<script>"), "{key}: inline script");
        }
        if key.ends_with(".css") {
            assert!(!text.contains("@import"), "{key}: @import");
            assert!(!text.contains("url(http"), "{key}: remote url()");
            assert!(!text.contains("url(\"http"), "{key}: remote url()");
        }
    }
    assert!(html >= 1, "no HTML embedded");
}

// ---- each rule fails on a configuration that breaks it -------------------------------------------

fn real_config() -> Config {
    context::<MockRuntime>().config().clone()
}

fn with_csp(edit: impl FnOnce(&mut BTreeMap<String, Vec<String>>)) -> Vec<String> {
    let mut config = real_config();
    let mut d = csp_directives(config.app.security.csp.as_ref().unwrap());
    edit(&mut d);
    let policy = d
        .iter()
        .map(|(k, v)| format!("{k} {}", v.join(" ")))
        .collect::<Vec<_>>()
        .join("; ");
    config.app.security.csp = Some(Csp::Policy(policy));
    csp_problems(&config)
}

#[test]
fn mutated_csp_is_refused() {
    let add = |dir: &'static str, src: &'static str| {
        with_csp(move |d| d.entry(dir.into()).or_default().push(src.into()))
    };
    // The round trip through the policy string keeps a clean policy clean.
    assert_eq!(with_csp(|_| {}), Vec::<String>::new());
    for dir in ["default-src", "script-src", "style-src"] {
        for src in [
            "'unsafe-inline'",
            "'unsafe-eval'",
            "'wasm-unsafe-eval'",
            "https:",
            "https://cdn.example.com",
            "*",
            "http://localhost:1420",
            "data:",
        ] {
            assert!(!add(dir, src).is_empty(), "{dir} {src} accepted");
        }
    }
    assert!(!add("connect-src", "https://api.example.com").is_empty());
    assert!(!add("connect-src", "ws://localhost:1420").is_empty());
    assert!(!add("img-src", "https://tracker.example.com").is_empty());
    assert!(!add("frame-src", "https://example.com").is_empty());
    assert!(!with_csp(|d| {
        d.remove("script-src");
    })
    .is_empty());
    assert!(!with_csp(|d| {
        d.remove("object-src");
    })
    .is_empty());

    let mut config = real_config();
    config.app.security.csp = None;
    assert!(!csp_problems(&config).is_empty());
    let mut config = real_config();
    config.app.security.dev_csp = Some(Csp::Policy("default-src 'self' 'unsafe-eval'".into()));
    assert!(!csp_problems(&config).is_empty());
}

#[test]
fn mutated_settings_are_refused() {
    let broken = |edit: &dyn Fn(&mut Config)| {
        let mut config = real_config();
        edit(&mut config);
        setting_problems(&config)
    };
    assert_eq!(broken(&|_| {}), Vec::<String>::new());
    assert!(!broken(&|c| c.app.with_global_tauri = true).is_empty());
    assert!(!broken(&|c| c.app.security.freeze_prototype = false).is_empty());
    assert!(!broken(&|c| {
        c.app.security.dangerous_disable_asset_csp_modification =
            DisabledCspModificationKind::Flag(true)
    })
    .is_empty());
    assert!(!broken(&|c| {
        c.app.security.dangerous_disable_asset_csp_modification =
            DisabledCspModificationKind::List(vec!["script-src".into()])
    })
    .is_empty());
    assert!(!broken(&|c| c.app.security.asset_protocol.enable = true).is_empty());
    assert!(
        !broken(&|c| { c.build.dev_url = Some("http://localhost:1420".parse().unwrap()) })
            .is_empty()
    );
    assert!(!broken(&|c| {
        let mut second = c.app.windows[0].clone();
        second.label = "second".into();
        c.app.windows.push(second);
    })
    .is_empty());
    assert!(!broken(&|c| c.app.windows[0].label = "other".into()).is_empty());
    assert!(!broken(&|c| {
        c.app.windows[0].url = WebviewUrl::External("https://example.com".parse().unwrap())
    })
    .is_empty());
    assert!(!broken(&|c| c.app.windows[0].devtools = Some(true)).is_empty());
}

#[test]
fn mutated_capabilities_are_refused() {
    let commands = handler_commands();
    let real: Capability = capability_files().remove(0).1;
    let broken = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut v = serde_json::to_value(&real).unwrap();
        edit(&mut v);
        let cap: Capability = serde_json::from_value(v).unwrap();
        capability_problems(&[cap], &commands)
    };
    assert_eq!(broken(&|_| {}), Vec::<String>::new());
    let add = |perm: serde_json::Value| {
        broken(&move |v| v["permissions"].as_array_mut().unwrap().push(perm.clone()))
    };
    for perm in [
        "core:default",
        "core:window:allow-close",
        "opener:default",
        "opener:allow-open-url",
        "autostart:allow-enable",
        "allow-not-a-command",
    ] {
        assert!(!add(perm.into()).is_empty(), "{perm} accepted");
    }
    // An app permission with a scope attached is not a plain grant either.
    assert!(
        !add(serde_json::json!({"identifier": "allow-vault-list", "allow": [{"path": "*"}]}))
            .is_empty()
    );
    assert!(
        !broken(&|v| { v["remote"] = serde_json::json!({"urls": ["https://*.example.com"]}) })
            .is_empty()
    );
    assert!(!broken(&|v| v["windows"] = serde_json::json!(["*"])).is_empty());
    assert!(!broken(&|v| v["windows"] = serde_json::json!(["main", "other"])).is_empty());
    assert!(!broken(&|v| v["webviews"] = serde_json::json!(["main"])).is_empty());
    assert!(!broken(&|v| v["local"] = serde_json::json!(false)).is_empty());
}

/// The navigation guard (lib.rs) keeps the webview on the app's own pages; tests/e2e/
/// lockdown.test.mjs shows a page script cannot take the real webview elsewhere.
#[test]
fn only_the_apps_own_pages_may_be_shown() {
    let ok = |u: &str| apppass_app::is_app_url(&u.parse().unwrap());
    for own in [
        "tauri://localhost",
        "tauri://localhost/",
        "tauri://localhost/index.html#/bridge",
        "http://tauri.localhost/",
        "https://tauri.localhost/index.html",
    ] {
        assert!(ok(own), "{own}");
    }
    for other in [
        "https://example.com/",
        "http://127.0.0.1:1420/",
        "http://localhost/",
        "tauri://example.com/",
        "tauri://localhost.example.com/",
        "http://tauri.localhost.example.com/",
        "http://tauri.localhost:8080/",
        "https://tauri.localhost@example.com/",
        "file:///etc/passwd",
        "data:text/html,<p>hi</p>",
        "javascript:alert(1)",
        "about:blank",
        "ipc://localhost/vault_list",
    ] {
        assert!(!ok(other), "{other}");
    }
}
