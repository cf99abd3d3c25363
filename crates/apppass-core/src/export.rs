//! Client configuration exports for an entry: Thunderbird autoconfig XML (clientConfig 1.1), an
//! Apple configuration profile (`com.apple.mail.managed`), and snippets for msmtp, mbsync,
//! NeoMutt and aerc that run `apppass get 'NAME'` for the password.
//!
//! Only what the entry's servers support is exported ([`crate::catalog::endpoints`]); a format
//! that needs a server the entry lacks is refused with `MissingServer`. The password is never
//! written, except into a profile when the caller passes it explicitly: the result then says
//! `contains_password`, carries a warning to show, cannot be serialised (so it never crosses the
//! webview), and its text is wiped from memory when dropped.

use serde::ser::{Error as _, SerializeStruct};
use serde::{Deserialize, Serialize, Serializer};
use ts_rs::TS;
use zeroize::{Zeroize, Zeroizing};

use crate::catalog::{self, Endpoint, Protocol};
use crate::error::{Code, Failure};
use crate::secret::Secret;
use crate::vault::{Entry, Security};

/// A configuration format `apppass export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ExportFormat {
    /// Thunderbird autoconfig XML (clientConfig version 1.1).
    Thunderbird,
    /// Apple configuration profile for Mail on macOS, iOS and iPadOS.
    Mobileconfig,
    Msmtp,
    Mbsync,
    Neomutt,
    Aerc,
}

impl ExportFormat {
    pub const ALL: [ExportFormat; 6] = [
        ExportFormat::Thunderbird,
        ExportFormat::Mobileconfig,
        ExportFormat::Msmtp,
        ExportFormat::Mbsync,
        ExportFormat::Neomutt,
        ExportFormat::Aerc,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Thunderbird => "thunderbird",
            ExportFormat::Mobileconfig => "mobileconfig",
            ExportFormat::Msmtp => "msmtp",
            ExportFormat::Mbsync => "mbsync",
            ExportFormat::Neomutt => "neomutt",
            ExportFormat::Aerc => "aerc",
        }
    }

    fn label(self) -> &'static str {
        match self {
            ExportFormat::Thunderbird => "A Thunderbird configuration",
            ExportFormat::Mobileconfig => "An Apple configuration profile",
            ExportFormat::Msmtp => "An msmtp configuration",
            ExportFormat::Mbsync => "An mbsync configuration",
            ExportFormat::Neomutt => "A NeoMutt configuration",
            ExportFormat::Aerc => "An aerc configuration",
        }
    }
}

/// An exported configuration.
#[derive(TS)]
#[ts(export)]
pub struct Exported {
    /// A suggested file name.
    pub file_name: String,
    pub media_type: String,
    /// The file's content. Wiped from memory when dropped.
    #[ts(type = "string")]
    pub text: Zeroizing<String>,
    /// The text holds the app password in clear (a profile exported with the password). Such a
    /// result refuses to serialise: write it from Rust, with owner-only permissions.
    pub contains_password: bool,
    /// Shown to the person before the file is used, when set.
    pub warning: Option<String>,
}

impl Serialize for Exported {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.contains_password {
            return Err(S::Error::custom(
                "an export that holds a password is never serialised",
            ));
        }
        let mut s = serializer.serialize_struct("Exported", 5)?;
        s.serialize_field("file_name", &self.file_name)?;
        s.serialize_field("media_type", &self.media_type)?;
        s.serialize_field("text", self.text.as_str())?;
        s.serialize_field("contains_password", &self.contains_password)?;
        s.serialize_field("warning", &self.warning)?;
        s.end()
    }
}

impl std::fmt::Debug for Exported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text: &str = if self.contains_password {
            "<redacted: holds a password>"
        } else {
            &self.text
        };
        f.debug_struct("Exported")
            .field("file_name", &self.file_name)
            .field("media_type", &self.media_type)
            .field("text", &text)
            .field("contains_password", &self.contains_password)
            .field("warning", &self.warning)
            .finish()
    }
}

/// The warning shown with a profile that holds the password.
pub const PASSWORD_WARNING: &str = "This profile holds the app password in clear text. Install it, then delete the file; anyone who can read it can use your mail account.";

/// Renders `entry`'s configuration in `format`. `password` is accepted only for
/// [`ExportFormat::Mobileconfig`] (the other formats run `apppass get` instead).
pub fn render(
    entry: &Entry,
    format: ExportFormat,
    password: Option<&Secret>,
) -> Result<Exported, Failure> {
    if password.is_some() && format != ExportFormat::Mobileconfig {
        return Err(Failure::new(
            Code::InvalidInput,
            format!("Only an Apple configuration profile can include the password; the {} configuration runs `apppass get` instead. Export again without the password.", format.as_str()),
        ));
    }
    let endpoints = catalog::endpoints(entry);
    let provider_name = catalog::provider(&entry.provider)
        .map(|p| p.name.clone())
        .unwrap_or_else(|_| entry.provider.clone());
    let ctx = Context {
        entry,
        endpoints: &endpoints,
        provider_name: &provider_name,
        format,
    };
    match format {
        ExportFormat::Thunderbird => ctx.thunderbird(),
        ExportFormat::Mobileconfig => ctx.mobileconfig(password),
        ExportFormat::Msmtp => ctx.msmtp(),
        ExportFormat::Mbsync => ctx.mbsync(),
        ExportFormat::Neomutt => ctx.neomutt(),
        ExportFormat::Aerc => ctx.aerc(),
    }
}

struct Context<'a> {
    entry: &'a Entry,
    endpoints: &'a [Endpoint],
    provider_name: &'a str,
    format: ExportFormat,
}

fn plain(file_name: String, media_type: &str, text: String) -> Exported {
    Exported {
        file_name,
        media_type: media_type.to_string(),
        text: Zeroizing::new(text),
        contains_password: false,
        warning: None,
    }
}

impl Context<'_> {
    fn get(&self, protocol: Protocol) -> Option<&Endpoint> {
        self.endpoints.iter().find(|e| e.protocol == protocol)
    }

    fn missing(&self, what: &str) -> Failure {
        let has: Vec<&str> = self.endpoints.iter().map(|e| e.protocol.label()).collect();
        let has = if has.is_empty() {
            "no mail server".to_string()
        } else {
            format!("only {}", has.join(" and "))
        };
        Failure::new(
            Code::MissingServer,
            format!(
                "{} needs {what}, but the entry {:?} ({}) has {has}. Choose a format for the servers it has, or add an entry with those servers (--provider custom).",
                self.format.label(),
                self.entry.name,
                self.provider_name
            ),
        )
    }

    /// IMAP, else POP.
    fn incoming(&self) -> Option<&Endpoint> {
        self.get(Protocol::Imap).or_else(|| self.get(Protocol::Pop))
    }

    fn slug(&self) -> String {
        slug(&self.entry.name)
    }

    fn address(&self) -> Option<&str> {
        let a = self.entry.account.as_str();
        a.contains('@').then_some(a)
    }

    fn thunderbird(&self) -> Result<Exported, Failure> {
        let Some(_) = self.incoming() else {
            return Err(self.missing("an incoming server (IMAP or POP)"));
        };
        let domain = self
            .entry
            .account
            .rsplit_once('@')
            .map(|(_, d)| d.to_string())
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| self.endpoints[0].host.clone());
        let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        x.push_str(&format!(
            "<!-- Thunderbird autoconfig for the apppass entry {}. The password is not in this file: Thunderbird asks for it. -->\n",
            xml_comment(&self.entry.name)
        ));
        x.push_str("<clientConfig version=\"1.1\">\n");
        x.push_str(&format!(
            "  <emailProvider id=\"{}\">\n",
            xml_escape(&domain)
        ));
        x.push_str(&format!("    <domain>{}</domain>\n", xml_escape(&domain)));
        x.push_str(&format!(
            "    <displayName>{}</displayName>\n",
            xml_escape(self.provider_name)
        ));
        x.push_str(&format!(
            "    <displayShortName>{}</displayShortName>\n",
            xml_escape(&self.entry.name)
        ));
        let server = |tag: &str, kind: &str, e: &Endpoint| -> String {
            format!(
                "    <{tag} type=\"{kind}\">\n      <hostname>{}</hostname>\n      <port>{}</port>\n      <socketType>{}</socketType>\n      <username>{}</username>\n      <authentication>password-cleartext</authentication>\n    </{tag}>\n",
                xml_escape(&e.host),
                e.port,
                match e.security {
                    Security::Tls => "SSL",
                    Security::Starttls => "STARTTLS",
                },
                xml_escape(&e.username),
            )
        };
        if let Some(e) = self.get(Protocol::Imap) {
            x.push_str(&server("incomingServer", "imap", e));
        }
        if let Some(e) = self.get(Protocol::Pop) {
            x.push_str(&server("incomingServer", "pop3", e));
        }
        if let Some(e) = self.get(Protocol::Smtp) {
            x.push_str(&server("outgoingServer", "smtp", e));
        }
        if let Ok(p) = catalog::provider(&self.entry.provider) {
            if let Some(url) = &p.help_url {
                x.push_str(&format!(
                    "    <documentation url=\"{}\"/>\n",
                    xml_escape(url)
                ));
            }
        }
        x.push_str("  </emailProvider>\n</clientConfig>\n");
        Ok(plain(format!("{}.xml", file_safe(&domain)), "text/xml", x))
    }

    fn mobileconfig(&self, password: Option<&Secret>) -> Result<Exported, Failure> {
        use plist::{Dictionary, Value};
        let Some(incoming) = self.incoming() else {
            return Err(self.missing("an incoming server (IMAP or POP) and an SMTP server"));
        };
        let Some(smtp) = self.get(Protocol::Smtp) else {
            return Err(self.missing("an SMTP server as well as IMAP or POP"));
        };
        let id = format!("local.apppass.mail.{}", self.entry.id);
        let mut mail = Dictionary::new();
        let s = |v: &str| Value::String(v.to_string());
        mail.insert("PayloadType".into(), s("com.apple.mail.managed"));
        mail.insert("PayloadVersion".into(), Value::Integer(1.into()));
        mail.insert("PayloadIdentifier".into(), s(&format!("{id}.account")));
        mail.insert("PayloadUUID".into(), s(&uuid()?));
        mail.insert("PayloadDisplayName".into(), s(&self.entry.name));
        mail.insert("EmailAccountDescription".into(), s(&self.entry.name));
        mail.insert(
            "EmailAccountType".into(),
            s(match incoming.protocol {
                Protocol::Pop => "EmailTypePOP",
                _ => "EmailTypeIMAP",
            }),
        );
        if let Some(address) = self.address() {
            mail.insert("EmailAddress".into(), s(address));
        }
        // Apple's key documentation says only that UseSSL "enables SSL"; it does not say
        // whether it means STARTTLS on a submission port (providers.md §6.2). It is on for
        // both kinds of security, so Mail never sends the password without TLS.
        for (prefix, e) in [("Incoming", incoming), ("Outgoing", smtp)] {
            mail.insert(format!("{prefix}MailServerHostName"), s(&e.host));
            mail.insert(
                format!("{prefix}MailServerPortNumber"),
                Value::Integer(u64::from(e.port).into()),
            );
            mail.insert(format!("{prefix}MailServerUseSSL"), Value::Boolean(true));
            mail.insert(
                format!("{prefix}MailServerAuthentication"),
                s("EmailAuthPassword"),
            );
            mail.insert(format!("{prefix}MailServerUsername"), s(&e.username));
        }
        match password {
            Some(p) => {
                mail.insert("IncomingPassword".into(), s(p.expose()));
                mail.insert("OutgoingPassword".into(), s(p.expose()));
            }
            None => {
                mail.insert(
                    "OutgoingPasswordSameAsIncomingPassword".into(),
                    Value::Boolean(true),
                );
            }
        }
        let mut top = Dictionary::new();
        top.insert(
            "PayloadContent".into(),
            Value::Array(vec![Value::Dictionary(mail)]),
        );
        top.insert(
            "PayloadDisplayName".into(),
            s(&format!("Mail: {}", self.entry.name)),
        );
        top.insert(
            "PayloadDescription".into(),
            s(&format!(
                "Mail account {} ({}), exported by apppass.",
                self.entry.account, self.provider_name
            )),
        );
        top.insert("PayloadIdentifier".into(), s(&id));
        top.insert("PayloadType".into(), s("Configuration"));
        top.insert("PayloadUUID".into(), s(&uuid()?));
        top.insert("PayloadVersion".into(), Value::Integer(1.into()));
        let mut value = Value::Dictionary(top);
        let mut bytes = Vec::new();
        let written = value.to_writer_xml(&mut bytes);
        wipe_passwords(&mut value);
        written.map_err(|e| {
            bytes.zeroize();
            Failure::new(Code::Internal, format!("Cannot write the profile: {e}"))
        })?;
        let text = match String::from_utf8(bytes) {
            Ok(t) => Zeroizing::new(t),
            Err(e) => {
                let mut b = e.into_bytes();
                b.zeroize();
                return Err(Failure::new(Code::Internal, "The profile is not UTF-8."));
            }
        };
        Ok(Exported {
            file_name: format!("{}.mobileconfig", self.slug()),
            media_type: "application/x-apple-aspen-config".into(),
            text,
            contains_password: password.is_some(),
            warning: password.map(|_| PASSWORD_WARNING.to_string()),
        })
    }

    fn msmtp(&self) -> Result<Exported, Failure> {
        let Some(smtp) = self.get(Protocol::Smtp) else {
            return Err(self.missing("an SMTP server"));
        };
        let mut t = format!(
            "# msmtp account for the apppass entry {} ({}).\n# Add it to ~/.msmtprc (chmod 600); the password comes from `apppass get`.\n",
            comment(&self.entry.name),
            comment(self.provider_name)
        );
        t.push_str(&format!("account {}\n", self.slug()));
        t.push_str(&format!("host {}\n", smtp.host));
        t.push_str(&format!("port {}\n", smtp.port));
        t.push_str("tls on\n");
        t.push_str(match smtp.security {
            Security::Tls => "tls_starttls off\n",
            Security::Starttls => "tls_starttls on\n",
        });
        t.push_str("auth on\n");
        // msmtp takes the rest of the line as the argument and only strips one pair of
        // enclosing double quotes: nothing inside is unescaped, so nothing is escaped.
        t.push_str(&format!("user \"{}\"\n", smtp.username));
        match self.address() {
            Some(a) => t.push_str(&format!("from \"{a}\"\n")),
            None => t.push_str("# from you@example.com  (set your address)\n"),
        }
        t.push_str(&format!(
            "passwordeval \"{}\"\n",
            get_command(&self.entry.name)
        ));
        Ok(plain("msmtprc".into(), "text/plain", t))
    }

    fn mbsync(&self) -> Result<Exported, Failure> {
        let Some(imap) = self.get(Protocol::Imap) else {
            return Err(self.missing("an IMAP server"));
        };
        let slug = self.slug();
        let mut t = format!(
            "# mbsync (isync 1.4 or later) for the apppass entry {} ({}).\n# Add it to ~/.mbsyncrc; the password comes from `apppass get`.\n",
            comment(&self.entry.name),
            comment(self.provider_name)
        );
        t.push_str(&format!("IMAPAccount {slug}\n"));
        t.push_str(&format!("Host {}\n", imap.host));
        t.push_str(&format!("Port {}\n", imap.port));
        t.push_str(&format!("User {}\n", dquote(&imap.username)));
        t.push_str(&format!(
            "PassCmd {}\n",
            dquote(&get_command(&self.entry.name))
        ));
        t.push_str(match imap.security {
            Security::Tls => "SSLType IMAPS\n",
            Security::Starttls => "SSLType STARTTLS\n",
        });
        t.push_str("AuthMechs LOGIN PLAIN\n\n");
        t.push_str(&format!("IMAPStore {slug}-remote\nAccount {slug}\n\n"));
        t.push_str(&format!(
            "MaildirStore {slug}-local\nPath ~/Mail/{slug}/\nInbox ~/Mail/{slug}/INBOX\nSubFolders Verbatim\n\n"
        ));
        t.push_str(&format!(
            "Channel {slug}\nFar :{slug}-remote:\nNear :{slug}-local:\nPatterns *\nCreate Near\nSyncState *\n"
        ));
        Ok(plain("mbsyncrc".into(), "text/plain", t))
    }

    fn neomutt(&self) -> Result<Exported, Failure> {
        let Some(incoming) = self.incoming() else {
            return Err(self.missing("an incoming server (IMAP or POP)"));
        };
        const UNSAFE: &[char] = &['\'', '"', '`', '\\', '$'];
        self.refuse_unsafe(UNSAFE, "quotes, backticks, backslashes or $")?;
        let pass = format!("\"`{}`\"", get_command(&self.entry.name));
        let mut t = format!(
            "# NeoMutt settings for the apppass entry {} ({}).\n# NeoMutt runs `apppass get` for the password when it reads this file.\n",
            comment(&self.entry.name),
            comment(self.provider_name)
        );
        t.push_str("set ssl_force_tls = yes\n");
        let starttls = self
            .endpoints
            .iter()
            .any(|e| e.security == Security::Starttls);
        if starttls {
            t.push_str("set ssl_starttls = yes\n");
        }
        match incoming.protocol {
            Protocol::Pop => {
                t.push_str(&format!(
                    "set pop_host = \"{}\"\n",
                    url(incoming, "pops", "pop")
                ));
                t.push_str(&format!("set pop_user = \"{}\"\n", incoming.username));
                t.push_str(&format!("set pop_pass = {pass}\n"));
            }
            _ => {
                t.push_str(&format!("set imap_user = \"{}\"\n", incoming.username));
                t.push_str(&format!("set imap_pass = {pass}\n"));
                t.push_str(&format!(
                    "set folder = \"{}\"\n",
                    url(incoming, "imaps", "imap")
                ));
                t.push_str("set spoolfile = \"+INBOX\"\n");
            }
        }
        if let Some(smtp) = self.get(Protocol::Smtp) {
            t.push_str(&format!(
                "set smtp_url = \"{}\"\n",
                url_with_user(smtp, "smtps", "smtp")
            ));
            t.push_str(&format!("set smtp_pass = {pass}\n"));
        }
        if let Some(a) = self.address() {
            t.push_str(&format!("set from = \"{a}\"\n"));
        }
        Ok(plain("neomuttrc".into(), "text/plain", t))
    }

    fn aerc(&self) -> Result<Exported, Failure> {
        let Some(imap) = self.get(Protocol::Imap) else {
            return Err(self.missing("an IMAP server"));
        };
        // aerc's accounts.conf is an ini file: `#` and `;` start comments, quotes and backticks
        // quote values.
        const UNSAFE: &[char] = &['#', ';', '"', '`', '\\'];
        self.refuse_unsafe(UNSAFE, "#, ;, quotes, backticks or backslashes")?;
        let mut t = format!(
            "# aerc account for the apppass entry {} ({}).\n# Add it to ~/.config/aerc/accounts.conf (chmod 600); the password comes from `apppass get`.\n",
            comment(&self.entry.name),
            comment(self.provider_name)
        );
        t.push_str(&format!("[{}]\n", self.slug()));
        t.push_str(&format!(
            "source = {}\n",
            url_with_user(imap, "imaps", "imap")
        ));
        t.push_str(&format!(
            "source-cred-cmd = {}\n",
            get_command(&self.entry.name)
        ));
        if let Some(smtp) = self.get(Protocol::Smtp) {
            t.push_str(&format!(
                "outgoing = {}\n",
                url_with_user(smtp, "smtps", "smtp")
            ));
            t.push_str(&format!(
                "outgoing-cred-cmd = {}\n",
                get_command(&self.entry.name)
            ));
        }
        t.push_str("default = INBOX\n");
        match self.address() {
            Some(a) => t.push_str(&format!("from = {a}\n")),
            None => t.push_str("# from = Your Name <you@example.com>  (aerc needs it to send)\n"),
        }
        Ok(plain("accounts.conf".into(), "text/plain", t))
    }

    /// Refuses a name or account with characters this format cannot hold safely.
    fn refuse_unsafe(&self, unsafe_chars: &[char], described: &str) -> Result<(), Failure> {
        let what = if self.entry.name.contains(unsafe_chars) {
            "name"
        } else if self.entry.account.contains(unsafe_chars)
            || self
                .endpoints
                .iter()
                .any(|e| e.username.contains(unsafe_chars))
        {
            "account"
        } else {
            return Ok(());
        };
        let next = if what == "name" {
            "Rename it (apppass rename OLD NEW)"
        } else {
            "Store it again with the account written without them"
        };
        Err(Failure::new(
            Code::InvalidInput,
            format!(
                "The entry {:?} has {described} in its {what}, which {} cannot hold safely. {next}, then export again.",
                self.entry.name,
                match self.format {
                    ExportFormat::Neomutt => "a NeoMutt configuration",
                    _ => "an aerc configuration",
                }
            ),
        ))
    }
}

/// `apppass get 'NAME'`, the name quoted for a POSIX shell (a `'` becomes `'\''`).
pub fn get_command(name: &str) -> String {
    format!("apppass get '{}'", name.replace('\'', "'\\''"))
}

/// A double-quoted argument for mbsync, whose parser takes `\"` and `\\` inside quotes.
fn dquote(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Text for a `#` comment line: one line (names never hold control characters).
fn comment(text: &str) -> String {
    let one_line: String = text.chars().filter(|c| !c.is_control()).collect();
    format!("'{one_line}'")
}

fn xml_comment(text: &str) -> String {
    // "--" may not appear inside an XML comment.
    xml_escape(text).replace("--", "- -")
}

/// XML text and attribute escaping.
pub(crate) fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

/// Lowercase ASCII letters, digits and `-`: for account names, section names and file names.
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let out: String = out.trim_end_matches('-').chars().take(48).collect();
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() {
        "apppass".into()
    } else {
        out
    }
}

fn file_safe(text: &str) -> String {
    let s: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with('.') {
        "config-v1.1".into()
    } else {
        s
    }
}

fn url_host(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

fn url(e: &Endpoint, tls_scheme: &str, starttls_scheme: &str) -> String {
    let scheme = match e.security {
        Security::Tls => tls_scheme,
        Security::Starttls => starttls_scheme,
    };
    format!("{scheme}://{}:{}/", url_host(&e.host), e.port)
}

fn url_with_user(e: &Endpoint, tls_scheme: &str, starttls_scheme: &str) -> String {
    let scheme = match e.security {
        Security::Tls => tls_scheme,
        Security::Starttls => starttls_scheme,
    };
    format!(
        "{scheme}://{}@{}:{}",
        percent_encode(&e.username),
        url_host(&e.host),
        e.port
    )
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn percent_encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A random (version 4) UUID in the upper-case form Apple's profiles use.
fn uuid() -> Result<String, Failure> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b)
        .map_err(|e| Failure::new(Code::Internal, format!("No OS randomness: {e}")))?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode_upper(b);
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

fn wipe_passwords(value: &mut plist::Value) {
    if let plist::Value::Dictionary(top) = value {
        if let Some(plist::Value::Array(payloads)) = top.get_mut("PayloadContent") {
            for p in payloads {
                if let plist::Value::Dictionary(d) = p {
                    for key in ["IncomingPassword", "OutgoingPassword"] {
                        if let Some(plist::Value::String(s)) = d.get_mut(key) {
                            s.zeroize();
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
