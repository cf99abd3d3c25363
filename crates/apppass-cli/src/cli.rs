//! The command line, as clap sees it. Parsing only: every command is carried out in `commands`.

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::exit;

#[derive(Debug, Parser)]
#[command(
    name = "apppass",
    version,
    about = "App passwords for mail clients, kept in the OS keyring",
    long_about = "App passwords for mail clients, kept in the OS keyring.

One entry per application (\"Thunderbird on laptop\"): apppass keeps the password in the OS
keyring (or an encrypted file where there is none) and what it is for in a small database.
Passwords are read from standard input, never from the command line; `apppass get NAME`
prints one for msmtp, mbsync or neomutt.",
    after_help = exit::HELP,
    propagate_version = true,
    disable_help_subcommand = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Store a new app password; the password is read from standard input
    #[command(after_help = "\
The password is read from standard input: on a terminal you are asked for it (nothing is
shown as you type or paste); from a pipe it is read as is, at most 64 KiB. Surrounding
whitespace is trimmed, and spaces or dashes are removed where the provider's format allows.

Examples:
  apppass add 'Thunderbird on laptop' --provider google \\
      --account ann@example.com --client thunderbird
  pass show mail/fastmail | apppass add msmtp --provider fastmail \\
      --account ann@fastmail.com --client msmtp
  apppass add 'Work IMAP' --provider custom --account ann --client mutt \\
      --imap-host mail.example.com --smtp-host mail.example.com --smtp-security starttls")]
    Add(AddArgs),

    /// Print an entry's password and a newline on stdout (for msmtp, mbsync, neomutt)
    #[command(after_help = "\
Prints only the password and a newline, and nothing else, so it can be used as:
  msmtp:   passwordeval \"apppass get 'msmtp'\"
  mbsync:  PassCmd \"apppass get 'mbsync'\"
  neomutt: set imap_pass = \"`apppass get 'neomutt'`\"
It never asks anything when stdin is not a terminal. On failure it prints one line on stderr
and exits with a status from the table in `apppass --help` (3 not found, 4 no keyring,
5 locked, ...).")]
    Get {
        /// The entry's name (case does not matter)
        name: String,
    },

    /// List entries: name, client, provider, account and age
    #[command(visible_alias = "ls")]
    List(JsonFlag),

    /// Find entries by name, client, provider or account (prefix matches first)
    Search {
        /// Text to look for
        query: String,
        #[command(flatten)]
        json: JsonFlag,
    },

    /// Show an entry's details (never its password)
    Info {
        name: String,
        #[command(flatten)]
        json: JsonFlag,
    },

    /// Give an entry a new name
    Rename {
        /// The current name
        old: String,
        /// The new name
        new: String,
    },

    /// Remove an entry and its password (delete it at the provider too)
    #[command(visible_alias = "remove")]
    Rm { name: String },

    /// Record a rotation: store the new password (from stdin, like add), or only the date
    Rotate {
        name: String,
        /// Record that the password was rotated elsewhere, without storing a new one
        #[arg(long)]
        mark_only: bool,
    },

    /// Passwords due for rotation, shared between entries, or never used
    Health(JsonFlag),

    /// What was done with which entry, and when (never a password)
    Audit {
        /// Show only the last N records
        #[arg(long, value_name = "N")]
        last: Option<usize>,
        #[command(flatten)]
        json: JsonFlag,
    },

    /// Check the store and the data, repair unfinished changes, find passwords no entry knows
    #[command(after_help = "\
Exits 0 once the checks have run; if the store cannot be reached, the report says why and
the exit status is that failure's (4 no keyring, 5 locked).

Passwords in the keyring that no entry knows (orphans: left when the entry list was lost or
restored) are counted and kept. `--adopt-orphans` makes an entry of each (\"Recovered password
N\", rename it with `apppass rename`); `--remove-orphans` deletes them.

When the vault database is damaged (exit 6, DataCorrupt), `apppass doctor --restore` keeps the
damaged file as vault.sqlite3.damaged-TIME and puts back the last good copy of the entry list
(vault-last-good.sqlite3, saved after every change). Passwords of entries added after that copy
stay in the keyring as orphans: adopt them with `apppass doctor --adopt-orphans`.")]
    Doctor(DoctorArgs),

    /// Sign in to the entry's mail servers with its password, to check that it works
    #[command(after_help = TEST_HELP)]
    Test(TestArgs),

    /// Show the settings, or change one with `apppass settings set KEY VALUE`
    #[command(args_conflicts_with_subcommands = true)]
    Settings {
        #[command(subcommand)]
        action: Option<SettingsAction>,
        #[command(flatten)]
        json: JsonFlag,
    },

    /// Where passwords are kept: the OS keyring or an encrypted file
    Store {
        #[command(subcommand)]
        action: StoreAction,
    },

    /// The providers apppass knows, with the page where app passwords are managed
    Providers(JsonFlag),

    /// The mail clients apppass knows: what they use and which export formats suit them
    Clients(JsonFlag),

    /// Can this mail client work with this provider's app passwords? Per protocol, with sources
    #[command(after_help = "\
Per protocol the client uses, the provider's statement in force today (with its source and the
date apppass checked it), a verdict (works, partly, no, unknown) and what to do. Where apppass
has no source, the protocol is `unknown`: apppass does not guess.

Examples:
  apppass preflight --provider microsoft365 --client printer
  apppass preflight --provider google --client thunderbird --json")]
    Preflight(PreflightArgs),

    /// Write a mail client's configuration for an entry (Thunderbird, Apple profile, msmtp,
    /// mbsync, NeoMutt, aerc)
    #[command(after_help = EXPORT_HELP)]
    Export(ExportArgs),

    /// Sign in with your work account, in the browser or with a code
    #[command(after_help = crate::signin::LOGIN_HELP)]
    Login(LoginArgs),

    /// Sign out: delete the sign-in's tokens (and revoke them where the provider allows)
    Logout,

    /// Show the signed-in work account (no network needed)
    #[command(after_help = "\
Exits 12 (SignInRequired) when nobody is signed in, or when the sign-in has ended and
`apppass login` is needed again; the account is still shown in that second case.")]
    Whoami(JsonFlag),

    /// Your work account's MFA status and whether app passwords can work (needs `apppass login`)
    Mfa {
        #[command(subcommand)]
        action: MfaAction,
    },

    /// The modern-auth bridge: a local password per mail client, signing in upstream with OAuth
    #[command(after_help = crate::bridge::BRIDGE_HELP)]
    Bridge {
        #[command(subcommand)]
        action: BridgeAction,
    },

    /// Print a shell completion script for bash, zsh, fish, elvish or powershell
    #[command(after_help = "Examples:
  apppass completions bash > ~/.local/share/bash-completion/completions/apppass
  apppass completions zsh > ~/.zfunc/_apppass
  apppass completions fish > ~/.config/fish/completions/apppass.fish")]
    Completions { shell: clap_complete::Shell },
}

pub const TEST_HELP: &str = "\
Tests each server of the entry (IMAP, SMTP, POP3, as the entry or its provider names them):
connects, sets up TLS (from the first byte, or STARTTLS, which is required: a server that does
not offer it is refused before the password is sent), signs in with the stored password and
signs out. The steps are shown on stderr as they run; one result line per protocol goes to
stdout: ok, auth_rejected, tls_error, timeout, dns_error, connection_refused or protocol_error,
with the server's words and, for known answers, what they mean.

--json prints one JSON array, one object per protocol:
  [{\"protocol\": \"imap\", \"result\": \"ok\", \"detail\": \"...\", \"explanation\": null}]

Exits 0 when every tested protocol is ok, 19 when any is not. Certificates are checked against
the system's CAs plus the extra CA file, if one is given (--ca-file, or the ca_file setting).";

/// `apppass test NAME`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// The entry's name (case does not matter)
    pub name: String,
    /// Test only this protocol (default: every server the entry has)
    #[arg(long, value_enum, value_name = "PROTOCOL")]
    pub protocol: Option<ProtocolArg>,
    /// A PEM file of extra CA certificates to trust (overrides the ca_file setting)
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<std::path::PathBuf>,
    /// Print the results as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProtocolArg {
    Imap,
    Smtp,
    Pop,
}

pub const EXPORT_HELP: &str = "\
Writes to stdout, or to FILE with --output. The password is never written: the msmtp, mbsync,
NeoMutt and aerc snippets run `apppass get 'NAME'` when the client needs it, and Thunderbird and
Apple Mail ask for it. Only the entry's servers are exported; a format that needs a server the
entry lacks (e.g. mbsync without IMAP) is refused (exit 7, MissingServer).

--include-password (mobileconfig only, needs --output) puts the password into the profile in
clear, for devices where typing it is hard. The file is created readable only by you; install it,
then delete it.

Examples:
  apppass export 'Thunderbird on laptop' --format thunderbird --output icloud.com.xml
  apppass export msmtp --format msmtp >> ~/.msmtprc
  apppass export 'iPhone' --format mobileconfig --output iphone.mobileconfig";

/// `apppass preflight`.
#[derive(Debug, Args)]
pub struct PreflightArgs {
    /// Provider id (see `apppass providers`)
    #[arg(long, value_name = "ID")]
    pub provider: String,
    /// Client id (see `apppass clients`)
    #[arg(long, value_name = "ID")]
    pub client: String,
    /// The day to check, YYYY-MM-DD (default: today, UTC)
    #[arg(long, value_name = "DATE")]
    pub date: Option<String>,
    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

/// `apppass export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The entry's name (case does not matter)
    pub name: String,
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: ExportFormatArg,
    /// Write to this file instead of stdout (created readable only by you)
    #[arg(long, value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
    /// Put the password into the profile in clear (mobileconfig with --output only)
    #[arg(long)]
    pub include_password: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormatArg {
    /// Thunderbird autoconfig XML (clientConfig 1.1)
    Thunderbird,
    /// Apple configuration profile for Mail on macOS, iOS and iPadOS
    Mobileconfig,
    /// msmtp account (passwordeval "apppass get NAME")
    Msmtp,
    /// mbsync/isync account, store and channel (PassCmd)
    Mbsync,
    /// NeoMutt settings (imap_pass/smtp_pass from apppass get)
    Neomutt,
    /// aerc account (source-cred-cmd, outgoing-cred-cmd)
    Aerc,
}

/// `apppass doctor`.
#[derive(Debug, Args, Clone, Copy)]
pub struct DoctorArgs {
    /// Put back the last good copy of a damaged vault database (the damaged file is kept)
    #[arg(long, conflicts_with_all = ["adopt_orphans", "remove_orphans"])]
    pub restore: bool,
    /// Make an entry ("Recovered password N") of each password no entry knows
    #[arg(long, conflicts_with = "remove_orphans")]
    pub adopt_orphans: bool,
    /// Delete the passwords no entry knows (they cannot be recovered afterwards)
    #[arg(long)]
    pub remove_orphans: bool,
    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args, Clone, Copy)]
pub struct JsonFlag {
    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
}

/// `apppass login`: the flags override `[signin]` in settings.toml for this sign-in only; a field
/// the administrator's policy file fixes cannot be overridden.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Sign in with a code on any device (RFC 8628) instead of this computer's browser
    #[arg(long)]
    pub device_code: bool,
    /// Any OpenID issuer URL, e.g. https://login.microsoftonline.com/TENANT/v2.0
    #[arg(long, value_name = "URL", conflicts_with = "tenant")]
    pub authority: Option<String>,
    /// Microsoft Entra tenant: a tenant id, a domain, `organizations` (default) or `common`
    #[arg(long, value_name = "TENANT")]
    pub tenant: Option<String>,
    /// The application (client) ID your IT department registered for apppass
    #[arg(long, value_name = "ID")]
    pub client_id: Option<String>,
    /// A scope to ask for besides openid, profile, email and offline_access (repeatable)
    #[arg(long = "scope", value_name = "SCOPE", num_args = 1..)]
    pub scopes: Vec<String>,
    /// Where the browser sends the answer: http://127.0.0.1:PORT/ (default) or
    /// http://localhost:PORT/ (the form Entra's portal registers)
    #[arg(long, value_enum, value_name = "FORM")]
    pub redirect: Option<RedirectArg>,
    /// Print JSON lines on stdout (with --device-code, the code first, then the account)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RedirectArg {
    /// http://127.0.0.1:PORT/ (RFC 8252)
    LoopbackIp,
    /// http://localhost:PORT/
    Localhost,
}

#[derive(Debug, Subcommand)]
pub enum SettingsAction {
    /// Show the settings
    Show(JsonFlag),
    /// Change a setting
    Set {
        key: SettingKey,
        /// A whole number in the setting's range; for ca_file a path ("" unsets it)
        #[arg(allow_hyphen_values = true)]
        value: String,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum SettingKey {
    /// Seconds until a copied password is cleared (0 = never, max 600)
    ClipboardClearSeconds,
    /// Seconds a revealed password stays visible (3 to 120)
    RevealHideSeconds,
    /// Days after which a password is due for rotation (7 to 3650)
    RotationDays,
    /// Extra CA certificates (a PEM file) the connection test trusts; "" unsets it
    CaFile,
}

#[derive(Debug, Subcommand)]
pub enum StoreAction {
    /// Which store is in use and whether it can be reached
    Status(JsonFlag),
    /// Keep passwords in an encrypted file (machines without an OS keyring)
    #[command(after_help = "\
The new passphrase is asked twice on the terminal, or read (one line) from the file
descriptor named in APPPASS_PASSPHRASE_FD. It must be hard to guess (zxcvbn score 3 of 4
or more). Passwords already in the OS keyring are moved into the file.")]
    UseFile,
    /// Keep passwords in the OS keyring; moves them out of the encrypted file
    UseKeyring,
}

#[derive(Debug, Subcommand)]
pub enum MfaAction {
    /// Registered sign-in methods, whether this sign-in used MFA, and the app-password preflight
    #[command(after_help = crate::mfa::STATUS_HELP)]
    Status {
        #[command(flatten)]
        json: JsonFlag,
        /// Microsoft Graph's address (default: the Graph of the cloud you signed in to)
        #[arg(long, value_name = "URL")]
        graph_url: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KindArg {
    /// An app password issued by the provider
    AppPassword,
    /// Refused: bridge clients are added with `apppass bridge add`, which makes the password
    Bridge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SecurityArg {
    /// TLS from the first byte (IMAPS 993, SMTPS 465, POP3S 995)
    Tls,
    /// STARTTLS before the password is sent (IMAP 143, submission 587, POP3 110)
    Starttls,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// A unique name for the entry, such as "Thunderbird on laptop"
    pub name: String,
    /// Provider id (see `apppass providers`), e.g. google, microsoft365, icloud, custom
    #[arg(long, value_name = "ID")]
    pub provider: String,
    /// The account (email address or user name) the password belongs to
    #[arg(long, value_name = "ACCOUNT")]
    pub account: String,
    /// The application or device that uses it, e.g. thunderbird, msmtp, "printer 3F"
    #[arg(long, value_name = "CLIENT")]
    pub client: String,
    /// Free-form notes
    #[arg(long, value_name = "TEXT", default_value = "")]
    pub notes: String,
    #[arg(long, value_enum, default_value = "app-password")]
    pub kind: KindArg,
    #[command(flatten)]
    pub servers: ServerArgs,
}

/// Server settings, for `--provider custom` only.
#[derive(Debug, Args, Default)]
#[command(next_help_heading = "Server settings (only with --provider custom)")]
pub struct ServerArgs {
    /// IMAP server host name
    #[arg(long, value_name = "HOST")]
    pub imap_host: Option<String>,
    /// Default: 993 with tls, 143 with starttls
    #[arg(long, value_name = "PORT")]
    pub imap_port: Option<u16>,
    /// Default: tls
    #[arg(long, value_enum, value_name = "SECURITY")]
    pub imap_security: Option<SecurityArg>,
    /// SMTP server host name
    #[arg(long, value_name = "HOST")]
    pub smtp_host: Option<String>,
    /// Default: 465 with tls, 587 with starttls
    #[arg(long, value_name = "PORT")]
    pub smtp_port: Option<u16>,
    /// Default: tls
    #[arg(long, value_enum, value_name = "SECURITY")]
    pub smtp_security: Option<SecurityArg>,
    /// POP server host name
    #[arg(long, value_name = "HOST")]
    pub pop_host: Option<String>,
    /// Default: 995 with tls, 110 with starttls
    #[arg(long, value_name = "PORT")]
    pub pop_port: Option<u16>,
    /// Default: tls
    #[arg(long, value_enum, value_name = "SECURITY")]
    pub pop_security: Option<SecurityArg>,
}

#[derive(Debug, Subcommand)]
pub enum BridgeAction {
    /// Add a bridge client: generates its password (shown once) and prints its settings
    Add {
        /// The client's name, e.g. "Thunderbird on laptop" (its user name is made from it)
        name: String,
        /// Which mail client (see `apppass clients`), e.g. thunderbird, outlook, msmtp, printer
        #[arg(long, value_name = "CLIENT")]
        client: String,
        /// Print JSON (with the password) instead of text
        #[arg(long)]
        json: bool,
    },
    /// List bridge clients: name, user name, client, last sign-in
    #[command(visible_alias = "ls")]
    List(JsonFlag),
    /// Give a bridge client a new password (shown once); the old one stops working at once
    Rotate {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Remove a bridge client; it can no longer sign in
    Rm { name: String },
    /// Run the bridge in the foreground until Ctrl+C (or SIGTERM)
    #[command(after_help = crate::bridge::RUN_HELP)]
    Run(BridgeRunArgs),
    /// Print the bridge's local certificate (PEM) for clients that must trust it
    Cert {
        /// Write it to this file instead of standard output
        #[arg(long, value_name = "FILE")]
        output: Option<std::path::PathBuf>,
    },
}

/// `apppass bridge run`: flags override `[bridge]` in settings.toml for this run.
#[derive(Debug, Args)]
pub struct BridgeRunArgs {
    /// Upstream provider: microsoft365 (default), google or custom
    #[arg(long, value_name = "PRESET")]
    pub preset: Option<String>,
    /// Upstream servers (any preset's can be replaced; custom needs at least one)
    #[command(flatten)]
    pub servers: ServerArgs,
    /// A mail scope the access token must carry (custom; repeatable). Presets bring theirs.
    #[arg(long = "scope", value_name = "SCOPE")]
    pub scopes: Vec<String>,
    /// A PEM file of extra CA certificates trusted for the upstream servers
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<std::path::PathBuf>,
    /// Local IMAP port with STARTTLS (default 1143; 0 = any free port; `off`)
    #[arg(long, value_name = "PORT|off", value_parser = parse_listen)]
    pub listen_imap: Option<ListenPort>,
    /// Local IMAP port with TLS (default 1993)
    #[arg(long, value_name = "PORT|off", value_parser = parse_listen)]
    pub listen_imaps: Option<ListenPort>,
    /// Local POP3 port with STLS (default 1110)
    #[arg(long, value_name = "PORT|off", value_parser = parse_listen)]
    pub listen_pop: Option<ListenPort>,
    /// Local POP3 port with TLS (default 1995)
    #[arg(long, value_name = "PORT|off", value_parser = parse_listen)]
    pub listen_pops: Option<ListenPort>,
    /// Local SMTP submission port with STARTTLS (default 1587)
    #[arg(long, value_name = "PORT|off", value_parser = parse_listen)]
    pub listen_smtp: Option<ListenPort>,
    /// Local SMTP submission port with TLS (default 1465)
    #[arg(long, value_name = "PORT|off", value_parser = parse_listen)]
    pub listen_smtps: Option<ListenPort>,
    /// Write the protocol log (passwords, tokens and SASL lines censored) to bridge-protocol.log
    #[arg(long)]
    pub protocol_log: bool,
    /// Print the listeners as one JSON line on stdout when ready (for scripts and tests)
    #[arg(long)]
    pub json: bool,
}

/// A local port from the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenPort {
    Off,
    Port(u16),
}

fn parse_listen(s: &str) -> Result<ListenPort, String> {
    if s.eq_ignore_ascii_case("off") {
        return Ok(ListenPort::Off);
    }
    s.parse::<u16>()
        .map(ListenPort::Port)
        .map_err(|_| format!("\"{s}\" is not a port: give 1-65535, 0 for any free port, or off"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
