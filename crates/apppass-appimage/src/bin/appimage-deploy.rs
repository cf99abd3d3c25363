//! apppass's stand-in for linuxdeploy, called by Tauri's AppImage bundler (see the crate's
//! documentation). It takes the arguments the bundler and its GTK plugin pass:
//!
//! `appimage-deploy --appdir DIR [--plugin NAME]... [--library FILE]... [--output appimage]`
//!
//! 1. copies each `--library` into `DIR/usr/lib`;
//! 2. copies every library the AppDir's ELF files need, and theirs, into `DIR/usr/lib`, except
//!    those left to the host (`deploy::HOST_PROVIDED`);
//! 3. runs each plugin (`linuxdeploy-plugin-NAME.sh` beside this program, then on PATH), with
//!    `LINUXDEPLOY` set to this program so that the plugin can call it back for libraries; then
//!    step 2 again for what the plugins added, and sets each ELF file's run path to `usr/lib`
//!    with patchelf;
//! 4. with `--output appimage`: packs the AppDir with mksquashfs and writes `$OUTPUT`: the runtime
//!    (`appimage-runtime` beside this program, or `$APPPASS_APPIMAGE_RUNTIME`) with the AppImage
//!    magic, then the squashfs.
//!
//! Called back by a plugin (`LINUXDEPLOY_PLUGIN_MODE=1`) it does steps 1 and 2 for the given libraries.

use std::collections::{BTreeSet, VecDeque};
use std::env;
use std::ffi::OsString;
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use apppass_appimage::deploy::{self, host_provided, run_path};
use apppass_appimage::elf::is_elf;
use apppass_appimage::{elf, failure};

#[derive(Default)]
struct Args {
    appdir: Option<PathBuf>,
    plugins: Vec<String>,
    libraries: Vec<PathBuf>,
    output: Option<String>,
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("appimage-deploy: {e}");
            ExitCode::FAILURE
        }
    }
}

fn parse(raw: Vec<String>) -> io::Result<Args> {
    let mut args = Args::default();
    let mut it = raw.into_iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| failure(format!("{name} needs a value")))
        };
        match flag.as_str() {
            "--appdir" => args.appdir = Some(PathBuf::from(value("--appdir")?)),
            "--plugin" | "-p" => args.plugins.push(value("--plugin")?),
            "--library" | "-l" => args.libraries.push(PathBuf::from(value("--library")?)),
            "--output" | "-o" => args.output = Some(value("--output")?),
            "--verbosity" | "-v" => {
                value("--verbosity")?;
            }
            // linuxdeploy is itself an AppImage; this program needs no unpacking.
            "--appimage-extract-and-run" => {}
            other => {
                return Err(failure(format!(
                    "unknown argument {other}; this stand-in for linuxdeploy takes --appdir, \
                     --plugin, --library, --output and --verbosity"
                )))
            }
        }
    }
    Ok(args)
}

fn run() -> io::Result<()> {
    let args = parse(env::args().skip(1).collect())?;
    let appdir = args
        .appdir
        .clone()
        .ok_or_else(|| failure("--appdir is missing: which AppDir to fill?"))?;
    let appdir = fs::canonicalize(&appdir).map_err(|e| {
        failure(format!(
            "the AppDir {} cannot be opened ({e})",
            appdir.display()
        ))
    })?;
    let lib = appdir.join("usr/lib");
    fs::create_dir_all(&lib)?;
    let plugin_mode = env::var("LINUXDEPLOY_PLUGIN_MODE").as_deref() == Ok("1");

    // The files whose libraries have been looked at, over both passes below.
    let mut seen = BTreeSet::new();
    let mut given = Vec::new();
    for library in &args.libraries {
        given.extend(copy_library(library, &lib)?.map(|copy| copy.path));
    }
    if plugin_mode {
        return copy_needed(&appdir, given, &mut seen);
    }
    // As linuxdeploy does: the programs' libraries first, so that plugins see them (the GTK
    // plugin patches the copied libwebkit2gtk), then what the plugins added.
    given.extend(elf_files(&appdir)?);
    copy_needed(&appdir, given, &mut seen)?;
    for plugin in &args.plugins {
        run_plugin(plugin, &appdir)?;
    }
    if !args.plugins.is_empty() {
        copy_needed(&appdir, elf_files(&appdir)?, &mut seen)?;
    }
    set_run_paths(&appdir)?;
    match args.output.as_deref() {
        None => Ok(()),
        Some("appimage") => write_appimage(&appdir),
        Some(other) => Err(failure(format!(
            "--output {other} is not known; only --output appimage is"
        ))),
    }
}

/// The name a library is loaded by: its SONAME, else its file name.
fn soname(library: &Path) -> String {
    let by_patchelf = Command::new("patchelf")
        .arg("--print-soname")
        .arg(library)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty());
    by_patchelf.unwrap_or_else(|| {
        library
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    })
}

/// A library in `usr/lib`, and whether this call put it there.
struct Copy {
    path: PathBuf,
    new: bool,
}

/// Copies a library into `usr/lib` under its SONAME, once; `None` for one left to the host.
fn copy_library(library: &Path, lib: &Path) -> io::Result<Option<Copy>> {
    let name = soname(library);
    if host_provided(&name) {
        return Ok(None);
    }
    let target = lib.join(&name);
    if target.exists() {
        return Ok(Some(Copy {
            path: target,
            new: false,
        }));
    }
    let real = fs::canonicalize(library).map_err(|e| {
        failure(format!(
            "the library {} cannot be found ({e})",
            library.display()
        ))
    })?;
    fs::copy(&real, &target)?;
    let mut perms = fs::metadata(&target)?.permissions();
    perms.set_mode(perms.mode() | 0o644);
    fs::set_permissions(&target, perms)?;
    Ok(Some(Copy {
        path: target,
        new: true,
    }))
}

/// Every regular ELF file under the AppDir.
fn elf_files(appdir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut dirs = vec![appdir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                dirs.push(entry.path());
            } else if kind.is_file() {
                let mut head = [0u8; 4];
                let n = fs::File::open(entry.path())?.read(&mut head)?;
                if is_elf(&head[..n]) {
                    found.push(entry.path());
                }
            }
        }
    }
    found.sort();
    Ok(found)
}

fn ldd(file: &Path) -> io::Result<Vec<deploy::Needed>> {
    let out = Command::new("ldd")
        .arg(file)
        .env("LC_ALL", "C")
        .output()
        .map_err(|e| failure(format!("cannot run ldd ({e}); it comes with libc-bin")))?;
    Ok(deploy::parse_ldd(&String::from_utf8_lossy(&out.stdout)))
}

/// Copies what the given files need, and what that needs, into `usr/lib`. Files in `seen` were
/// looked at by an earlier call and are skipped.
fn copy_needed(appdir: &Path, start: Vec<PathBuf>, seen: &mut BTreeSet<PathBuf>) -> io::Result<()> {
    let lib = appdir.join("usr/lib");
    let mut queue: VecDeque<PathBuf> = start.into();
    let mut missing = BTreeSet::new();
    let mut copied = 0;
    while let Some(file) = queue.pop_front() {
        if !seen.insert(file.clone()) {
            continue;
        }
        for needed in ldd(&file)? {
            if host_provided(&needed.name) {
                continue;
            }
            match needed.found {
                None => {
                    missing.insert(format!("{} (needed by {})", needed.name, file.display()));
                }
                Some(path) => {
                    // Already in usr/lib under the name it is asked for: no need to read its
                    // SONAME again (most libraries are needed by many files).
                    let present = lib.join(&needed.name);
                    if present.is_file() {
                        queue.push_back(present);
                    } else if let Some(copy) = copy_library(&path, &lib)? {
                        copied += usize::from(copy.new);
                        queue.push_back(copy.path);
                    }
                }
            }
        }
    }
    if !missing.is_empty() {
        return Err(failure(format!(
            "these libraries are not on this machine: {}; install the packages that hold them \
             (apt-file search NAME tells which) and bundle again",
            missing.into_iter().collect::<Vec<_>>().join(", ")
        )));
    }
    eprintln!("appimage-deploy: copied {copied} libraries into usr/lib");
    Ok(())
}

fn set_run_paths(appdir: &Path) -> io::Result<()> {
    let mut set = 0;
    for file in elf_files(appdir)? {
        // Only files with a dynamic section (programs and libraries that load others) have one.
        if !has_dynamic_section(&file)? {
            continue;
        }
        let relative = file.strip_prefix(appdir).unwrap_or(&file);
        let status = Command::new("patchelf")
            .arg("--set-rpath")
            .arg(run_path(relative))
            .arg(&file)
            .status()
            .map_err(|e| {
                failure(format!(
                    "cannot run patchelf ({e}); install it (apt install patchelf)"
                ))
            })?;
        if !status.success() {
            return Err(failure(format!(
                "patchelf could not set the run path of {}",
                file.display()
            )));
        }
        set += 1;
    }
    eprintln!("appimage-deploy: run path set on {set} ELF files");
    Ok(())
}

fn has_dynamic_section(file: &Path) -> io::Result<bool> {
    let out = Command::new("patchelf")
        .arg("--print-rpath")
        .arg(file)
        .output()?;
    Ok(out.status.success())
}

fn run_plugin(name: &str, appdir: &Path) -> io::Result<()> {
    let me = env::current_exe()?;
    let beside = me.parent().unwrap_or(Path::new("."));
    let file = format!("linuxdeploy-plugin-{name}.sh");
    let plugin = [beside.join(&file)]
        .into_iter()
        .chain(
            env::split_paths(&env::var_os("PATH").unwrap_or_default()).map(|dir| dir.join(&file)),
        )
        .find(|p| p.is_file())
        .ok_or_else(|| {
            failure(format!(
                "the plugin {name} was not found: no {file} in {} or on PATH",
                beside.display()
            ))
        })?;
    eprintln!("appimage-deploy: running the plugin {}", plugin.display());
    let status = Command::new("bash")
        .arg(&plugin)
        .arg("--appdir")
        .arg(appdir)
        .env("LINUXDEPLOY", &me)
        .status()?;
    if !status.success() {
        return Err(failure(format!(
            "the plugin {name} failed ({status}); its output is above"
        )));
    }
    Ok(())
}

fn runtime_path() -> io::Result<PathBuf> {
    if let Some(path) = env::var_os("APPPASS_APPIMAGE_RUNTIME") {
        return Ok(PathBuf::from(path));
    }
    let me = env::current_exe()?;
    Ok(me
        .parent()
        .unwrap_or(Path::new("."))
        .join("appimage-runtime"))
}

fn write_appimage(appdir: &Path) -> io::Result<()> {
    let output = env::var_os("OUTPUT")
        .map(PathBuf::from)
        .ok_or_else(|| failure("OUTPUT is not set: where should the AppImage go?"))?;
    let runtime_file = runtime_path()?;
    let mut runtime = fs::read(&runtime_file).map_err(|e| {
        failure(format!(
            "the AppImage runtime {} cannot be read ({e}); scripts/bundle.sh builds it",
            runtime_file.display()
        ))
    })?;
    let end = elf::end(&runtime).map_err(|why| {
        failure(format!(
            "the runtime {} is not usable: {why}",
            runtime_file.display()
        ))
    })?;
    if end != runtime.len() as u64 {
        return Err(failure(format!(
            "the runtime {} has {} bytes after its section headers, so it could not find its \
             file system; build it without them",
            runtime_file.display(),
            runtime.len() as u64 - end
        )));
    }
    elf::mark(&mut runtime);

    let mut squashfs: OsString = output.clone().into_os_string();
    squashfs.push(".squashfs");
    let squashfs = PathBuf::from(squashfs);
    let _ = fs::remove_file(&squashfs);
    eprintln!(
        "appimage-deploy: packing {} with mksquashfs",
        appdir.display()
    );
    let status = Command::new("mksquashfs")
        .arg(appdir)
        .arg(&squashfs)
        .args([
            "-all-root",
            "-noappend",
            "-comp",
            "gzip",
            "-quiet",
            "-no-progress",
        ])
        .status()
        .map_err(|e| {
            failure(format!(
                "cannot run mksquashfs ({e}); install it (apt install squashfs-tools)"
            ))
        })?;
    if !status.success() {
        return Err(failure(format!("mksquashfs failed ({status})")));
    }
    let mut image = runtime;
    image.extend(fs::read(&squashfs)?);
    fs::remove_file(&squashfs)?;
    let mut partial: OsString = output.clone().into_os_string();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    fs::write(&partial, &image)?;
    fs::set_permissions(&partial, fs::Permissions::from_mode(0o755))?;
    fs::rename(&partial, &output)?;
    eprintln!(
        "appimage-deploy: wrote {} ({} bytes; runtime {end} bytes)",
        output.display(),
        image.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn the_bundlers_arguments_are_understood() {
        let a = parse(args(
            "--appimage-extract-and-run --verbosity 1 --appdir /x/App.AppDir --plugin gtk --output appimage",
        ))
        .unwrap();
        assert_eq!(a.appdir, Some(PathBuf::from("/x/App.AppDir")));
        assert_eq!(a.plugins, vec!["gtk"]);
        assert_eq!(a.output.as_deref(), Some("appimage"));
        // The GTK plugin's call back.
        let a = parse(args(
            "--appdir=/x --library=/usr/lib/a.so.1 --library=/usr/lib/b.so",
        ))
        .unwrap();
        assert_eq!(a.appdir, Some(PathBuf::from("/x")));
        assert_eq!(a.libraries.len(), 2);
    }

    #[test]
    fn unknown_or_incomplete_arguments_say_what_is_taken() {
        let err = parse(args("--deploy-deps-only /x"))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("takes --appdir"), "{err}");
        let err = parse(args("--appdir")).err().unwrap().to_string();
        assert_eq!(err, "--appdir needs a value");
    }
}
