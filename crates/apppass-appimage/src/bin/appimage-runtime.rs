//! The runtime at the head of apppass's AppImage (see the crate's documentation).
//!
//! `./apppass_<version>_amd64.AppImage [args]` unpacks the image once into
//! `~/.cache/appimage/<name>-<build>/` and runs its `AppRun` with the args, setting `APPIMAGE`
//! (this file), `APPDIR` (the folder), `ARGV0` and `OWD` (the working folder it was started from)
//! as AppImage runtimes do. Its own options all start with `--appimage-`.

use std::env;
use std::io::{self, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use apppass_appimage::image;

const HELP: &str = "\
This is an AppImage: one file holding an app and what it needs.
Run it to start the app; any arguments go to the app. The first start of each build unpacks it
into ~/.cache/appimage/ (or $XDG_CACHE_HOME/appimage/); later starts run from there.

Options of the AppImage itself:
  --appimage-extract   unpack into ./squashfs-root and exit
  --appimage-offset    print where the file system starts in this file and exit
  --appimage-cache     print the folder it unpacks into and exit
  --appimage-version   print this runtime's version and exit
  --appimage-help      print this text and exit
";

#[used]
#[link_section = ".upd_info"]
static UPDATE_INFO: [u8; 512] = [0; 512];

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("AppImage: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> io::Result<ExitCode> {
    let image_path = env::current_exe()?;
    let mut args = env::args_os();
    let argv0 = args.next().unwrap_or_default();
    let args: Vec<_> = args.collect();
    let first = args.first().and_then(|a| a.to_str()).unwrap_or("");
    if let Some(option) = first.strip_prefix("--appimage-") {
        return own_option(option, &image_path);
    }

    let offset = image::squashfs_offset(&image_path)?;
    let folder = cache_folder(&image_path, offset)?;
    let started = Instant::now();
    if !folder.join(image::COMPLETE_MARK).exists() {
        eprintln!(
            "AppImage: first start of this build: unpacking into {} ...",
            folder.display()
        );
    }
    let unpacked = image::unpack_once(&image_path, offset, &folder).map_err(|e| {
        if e.kind() == io::ErrorKind::Other {
            e // already says what is wrong with the image
        } else {
            apppass_appimage::failure(format!(
                "cannot unpack into {} ({e}); make room there (about 300 MB) or set \
                 XDG_CACHE_HOME to a folder with room, then start the AppImage again",
                folder.display()
            ))
        }
    })?;
    if let Some(done) = unpacked {
        eprintln!(
            "AppImage: unpacked {} files ({} MB) in {:.1} s",
            done.files,
            done.bytes / 1_000_000,
            started.elapsed().as_secs_f64()
        );
    }
    let app_run = folder.join("AppRun");
    let owd = env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let err = Command::new(&app_run)
        .args(&args)
        .env("APPIMAGE", &image_path)
        .env("APPDIR", &folder)
        .env("ARGV0", &argv0)
        .env("OWD", owd)
        .exec();
    Err(apppass_appimage::failure(format!(
        "cannot run {} ({err}); delete {} and start the AppImage again",
        app_run.display(),
        folder.display()
    )))
}

fn cache_folder(image_path: &Path, offset: u64) -> io::Result<PathBuf> {
    let key = image::build_key(image_path, offset)?;
    let xdg = env::var("XDG_CACHE_HOME").ok();
    let home = env::var("HOME").ok();
    image::cache_folder(image_path, &key, xdg.as_deref(), home.as_deref())
}

fn own_option(option: &str, image_path: &Path) -> io::Result<ExitCode> {
    let mut out = io::stdout().lock();
    match option {
        "help" => out.write_all(HELP.as_bytes())?,
        "version" => writeln!(
            out,
            "apppass AppImage runtime {}",
            env!("CARGO_PKG_VERSION")
        )?,
        "offset" => writeln!(out, "{}", image::squashfs_offset(image_path)?)?,
        "cache" => {
            let offset = image::squashfs_offset(image_path)?;
            writeln!(out, "{}", cache_folder(image_path, offset)?.display())?;
        }
        "extract" => {
            let offset = image::squashfs_offset(image_path)?;
            let dest = Path::new("squashfs-root");
            if dest.exists() {
                return Err(apppass_appimage::failure(
                    "./squashfs-root exists already; move it away or run this in another folder",
                ));
            }
            let done = image::unpack(image_path, offset, dest)?;
            writeln!(
                out,
                "unpacked {} files, {} links and {} folders into ./squashfs-root",
                done.files, done.links, done.dirs
            )?;
        }
        other => {
            return Err(apppass_appimage::failure(format!(
                "unknown option --appimage-{other}; --appimage-help lists the AppImage's options"
            )))
        }
    }
    Ok(ExitCode::SUCCESS)
}
