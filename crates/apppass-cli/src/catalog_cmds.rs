//! `apppass clients`, `apppass preflight` and `apppass export`: thin calls into the core's
//! catalog and export modules, then printing.

use std::io::Write;

use apppass_core::catalog::facts::Accepts;
use apppass_core::catalog::{self, preflight::Verdict};
use apppass_core::clock::{Clock, SystemClock};
use apppass_core::export::{self, ExportFormat};
use apppass_core::open::open_vault;
use apppass_core::profile::Profile;
use apppass_core::vault::Access;
use apppass_core::{Code, Failure};

use crate::cli::{ExportArgs, ExportFormatArg, PreflightArgs};
use crate::exit;
use crate::input;
use crate::output::{self, note, out};

pub fn clients(json: bool) -> Result<u8, Failure> {
    let all = catalog::clients();
    if json {
        output::json(all)?;
        return Ok(exit::OK);
    }
    let rows: Vec<Vec<String>> = all
        .iter()
        .map(|c| {
            let protocols: Vec<&str> = c.protocols().iter().map(|p| p.as_str()).collect();
            let exports: Vec<&str> = c.exports.iter().map(|f| f.as_str()).collect();
            vec![
                c.id.clone(),
                c.name.clone(),
                protocols.join(","),
                exports.join(","),
            ]
        })
        .collect();
    out(&output::table(
        &["ID", "NAME", "PROTOCOLS", "EXPORT FORMATS"],
        &rows,
    ))?;
    Ok(exit::OK)
}

fn verdict(v: Verdict) -> &'static str {
    match v {
        Verdict::Works => "works",
        Verdict::Partly => "partly",
        Verdict::No => "no",
        Verdict::Unknown => "unknown (apppass cannot confirm)",
    }
}

fn accepts(a: Accepts) -> &'static str {
    match a {
        Accepts::Yes => "yes",
        Accepts::No => "no",
        Accepts::OffByDefault => "off by default",
        Accepts::Unknown => "unknown",
    }
}

pub fn preflight(args: PreflightArgs) -> Result<u8, Failure> {
    let today = match &args.date {
        Some(d) => d.clone(),
        None => apppass_core::graph::preflight::today(SystemClock.now()),
    };
    let p = catalog::preflight::check(args.provider.trim(), args.client.trim(), &today)?;
    if args.json {
        output::json(&p)?;
        return Ok(exit::OK);
    }
    let mut t = format!(
        "{} with {}, on {}: {}\n\n",
        p.client_name,
        p.provider_name,
        p.date,
        verdict(p.verdict)
    );
    for l in &p.lines {
        t.push_str(&format!(
            "{}: {}\n  {}\n",
            l.label,
            accepts(l.accepts),
            l.text
        ));
        if let (Some(source), Some(checked)) = (&l.source, &l.checked) {
            t.push_str(&format!("  source: {source} (checked {checked})\n"));
        }
        for c in &l.conditions {
            t.push_str(&format!(
                "  also: {}\n  source: {} (checked {})\n",
                c.value, c.source, c.checked
            ));
        }
    }
    if let Some(m) = &p.mfa {
        t.push_str(&format!("\n2-step verification: {}\n", m.text));
        if let Some(url) = &m.url {
            t.push_str(&format!("  set it up at: {url}\n"));
        }
        t.push_str(&format!("  source: {} (checked {})\n", m.source, m.checked));
    }
    for n in &p.notes {
        t.push_str(&format!(
            "\nNote: {}\n  source: {} (checked {})\n",
            n.value, n.source, n.checked
        ));
    }
    t.push_str("\nWhat to do:\n");
    for a in &p.advice {
        t.push_str(&format!("  {a}\n"));
    }
    if let Some(o) = &p.oauth {
        t.push_str(&format!("  source: {} (checked {})\n", o.source, o.checked));
    }
    out(&t)?;
    Ok(exit::OK)
}

fn format_of(arg: ExportFormatArg) -> ExportFormat {
    match arg {
        ExportFormatArg::Thunderbird => ExportFormat::Thunderbird,
        ExportFormatArg::Mobileconfig => ExportFormat::Mobileconfig,
        ExportFormatArg::Msmtp => ExportFormat::Msmtp,
        ExportFormatArg::Mbsync => ExportFormat::Mbsync,
        ExportFormatArg::Neomutt => ExportFormat::Neomutt,
        ExportFormatArg::Aerc => ExportFormat::Aerc,
    }
}

pub fn export(profile: &Profile, args: ExportArgs) -> Result<u8, Failure> {
    let format = format_of(args.format);
    if args.include_password && format != ExportFormat::Mobileconfig {
        return Err(Failure::new(
            Code::InvalidInput,
            "--include-password works only with --format mobileconfig; the other formats run `apppass get` for the password.",
        ));
    }
    if args.include_password && args.output.is_none() {
        return Err(Failure::new(
            Code::InvalidInput,
            "--include-password needs --output FILE: a profile holding the password is never printed to the terminal.",
        ));
    }
    let (vault, _) = open_vault(profile, "cli", &mut input::passphrase)?;
    let entry = vault.entry(&args.name)?;
    // Check the format fits the entry's servers before the password is read at all.
    export::render(&entry, format, None)?;
    let exported = if args.include_password {
        let (_, secret) = vault.secret(&entry.name, Access::Reveal)?;
        export::render(&entry, format, Some(&secret))?
    } else {
        export::render(&entry, format, None)?
    };
    match &args.output {
        None => out(&exported.text)?,
        Some(path) => {
            write_private(path, exported.text.as_bytes())?;
            note(&format!(
                "Wrote {} ({}).",
                path.display(),
                exported.media_type
            ));
        }
    }
    if let Some(w) = &exported.warning {
        note(&format!("Warning: {w}"));
    }
    Ok(exit::OK)
}

/// Writes `bytes` to `path`, readable and writable only by the owner (0600 on Unix).
fn write_private(path: &std::path::Path, bytes: &[u8]) -> Result<(), Failure> {
    let failed = |e: std::io::Error| {
        Failure::new(
            Code::StorageFailure,
            format!(
                "Cannot write {} ({e}). Choose another --output file.",
                path.display()
            ),
        )
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(failed)?;
    #[cfg(unix)]
    {
        // An existing file keeps its mode on open: make it private before writing.
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(failed)?;
    }
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(failed)
}
