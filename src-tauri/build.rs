//! Build script: embeds tauri.conf.json, the UI and the capabilities, and declares the app's
//! commands so that the ACL applies to them (each needs `allow-<command>` in a capability).

/// Every `#[tauri::command]` the app registers. A command missing here cannot be granted.
const COMMANDS: &[&str] = &[
    "vault_list",
    "vault_search",
    "vault_health",
    "entry_add",
    "entry_add_from_clipboard",
    "entry_copy",
    "entry_reveal",
    "entry_rename",
    "entry_remove",
    "settings_get",
    "settings_set",
    "catalog_providers",
    "provider_page_open",
    "store_status",
    "store_use_file",
    "store_unlock",
    "store_use_keyring",
    "signin_config",
    "signin_config_set",
    "signin_browser_start",
    "signin_code_start",
    "signin_cancel",
    "signin_status",
    "account_get",
    "signout",
    "mfa_status",
    "preflight",
    "security_info_open",
    "catalog_clients",
    "wizard_suggest_name",
    "wizard_paste",
    "wizard_save",
    "wizard_rotate",
    "wizard_cancel",
    "client_setup",
    "export_file",
    "connection_test",
    "wizard_preflight",
    "text_copy",
    "bridge_clients",
    "bridge_add",
    "bridge_rotate",
    "bridge_remove",
    "bridge_password_copy",
    "bridge_password_reveal",
    "bridge_status",
    "bridge_start",
    "bridge_stop",
    "bridge_settings_save",
    "bridge_login_item_apply",
    "bridge_cert_export",
    // Granted by no capability file: only at run time, with APPPASS_BENCH_READY=1 (src/bench.rs).
    "bench_ready",
];

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .capabilities_path_pattern("./src-tauri/capabilities/**/*")
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri-build failed");
    println!("cargo:rerun-if-changed=src-tauri/capabilities");
}
