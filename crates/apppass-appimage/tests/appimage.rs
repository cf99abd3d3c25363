//! The deployer and the runtime end to end, with the real tools they call (mksquashfs from
//! squashfs-tools, patchelf, ldd; scripts/setup.sh installs them).

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const DEPLOY: &str = env!("CARGO_BIN_EXE_appimage-deploy");
const RUNTIME: &str = env!("CARGO_BIN_EXE_appimage-runtime");

fn need(tool: &str, package: &str) {
    let found = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .any(|dir| dir.join(tool).is_file());
    assert!(
        found,
        "{tool} is missing: apt install {package} (scripts/setup.sh test does)"
    );
}

fn write(path: &Path, text: &str, mode: u32) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// An AppDir like the bundler's: the crate's AppRun, a desktop entry, and a program that reports
/// where and how it was started.
fn probe_appdir(root: &Path) -> PathBuf {
    let appdir = root.join("Probe.AppDir");
    let app_run = Path::new(env!("CARGO_MANIFEST_DIR")).join("AppRun");
    fs::create_dir_all(&appdir).unwrap();
    fs::copy(app_run, appdir.join("AppRun")).unwrap();
    write(
        &appdir.join("probe.desktop"),
        "[Desktop Entry]\nType=Application\nName=Probe\nExec=probe %u\nIcon=probe\n",
        0o644,
    );
    write(
        &appdir.join("usr/bin/probe"),
        "#!/bin/sh\necho \"pwd=$PWD\"\necho \"appimage=$APPIMAGE\"\necho \"appdir=$APPDIR\"\n\
         echo \"owd=$OWD\"\necho \"args=$*\"\n",
        0o755,
    );
    write(
        &appdir.join("usr/share/probe/notes.txt"),
        "kept as is\n",
        0o640,
    );
    symlink("probe", appdir.join("usr/bin/probe-alias")).unwrap();
    appdir
}

/// Runs a program the test has just written. Another test's thread may fork while this file is
/// still open for writing in it (until that child execs), and then Linux refuses to execute the
/// file for that moment ("Text file busy"): wait and try again.
fn output(cmd: &mut Command) -> Output {
    for _ in 0..100 {
        match cmd.output() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            result => return result.unwrap(),
        }
    }
    panic!("{cmd:?} stayed busy for 2 s");
}

fn deploy(appdir: &Path, output: Option<&Path>, extra: &[&str]) -> Output {
    let mut cmd = Command::new(DEPLOY);
    cmd.arg("--appdir").arg(appdir).args(extra);
    if let Some(output) = output {
        cmd.args(["--output", "appimage"])
            .env("OUTPUT", output)
            .env("APPPASS_APPIMAGE_RUNTIME", RUNTIME);
    }
    cmd.output().unwrap()
}

fn run_image(image: &Path, cache: &Path, cwd: &Path, args: &[&str]) -> Output {
    output(
        Command::new(image)
            .args(args)
            .current_dir(cwd)
            .env("XDG_CACHE_HOME", cache)
            .env_remove("APPDIR"),
    )
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The probe AppDir under `root`, made into `root/<name>` by the deployer: `(AppDir, image)`.
fn probe_image(root: &Path, name: &str) -> (PathBuf, PathBuf) {
    need("mksquashfs", "squashfs-tools");
    need("patchelf", "patchelf");
    let appdir = probe_appdir(root);
    let image = root.join(name);
    let out = deploy(&appdir, Some(&image), &[]);
    assert!(out.status.success(), "deploy failed: {}", text(&out.stderr));
    (appdir, image)
}

#[test]
fn an_appdir_round_trips_through_the_appimage_and_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let (appdir, image) = probe_image(tmp.path(), "Probe_1.0_amd64.AppImage");

    // A type 2 AppImage: the runtime with the magic, then the squashfs where the runtime ends.
    let bytes = fs::read(&image).unwrap();
    let runtime_len = fs::metadata(RUNTIME).unwrap().len();
    assert_eq!(&bytes[..4], b"\x7fELF");
    assert_eq!(&bytes[8..11], b"AI\x02");
    assert_eq!(
        &bytes[runtime_len as usize..runtime_len as usize + 4],
        b"hsqs"
    );
    assert_eq!(
        fs::metadata(&image).unwrap().permissions().mode() & 0o777,
        0o755
    );
    let offset = output(Command::new(&image).arg("--appimage-offset"));
    assert_eq!(text(&offset.stdout).trim(), runtime_len.to_string());

    // First start: unpacks into the cache and runs AppRun there, from usr/, with the AppImage's
    // variables; the arguments reach the program.
    let cache = tmp.path().join("cache");
    let work = tmp.path().join("work");
    fs::create_dir_all(&work).unwrap();
    let first = run_image(&image, &cache, &work, &["one", "two words"]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert!(
        text(&first.stderr).contains("unpacking into"),
        "{}",
        text(&first.stderr)
    );
    let folder = fs::read_dir(cache.join("appimage"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect::<Vec<_>>();
    assert_eq!(folder.len(), 1, "one folder per build: {folder:?}");
    let folder = &folder[0];
    let name = folder.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("Probe_1.0_amd64-"), "{name}");
    let told = output(
        Command::new(&image)
            .arg("--appimage-cache")
            .env("XDG_CACHE_HOME", &cache),
    );
    assert_eq!(text(&told.stdout).trim(), folder.display().to_string());
    let report = text(&first.stdout);
    assert!(
        report.contains(&format!("pwd={}/usr\n", folder.display())),
        "{report}"
    );
    assert!(
        report.contains(&format!("appimage={}\n", image.display())),
        "{report}"
    );
    assert!(
        report.contains(&format!("appdir={}\n", folder.display())),
        "{report}"
    );
    assert!(
        report.contains(&format!("owd={}\n", work.display())),
        "{report}"
    );
    assert!(report.contains("args=one two words\n"), "{report}");

    // Later starts run the unpacked copy without unpacking again.
    let second = run_image(&image, &cache, &work, &[]);
    assert!(second.status.success(), "{}", text(&second.stderr));
    assert!(
        !text(&second.stderr).contains("unpacking"),
        "{}",
        text(&second.stderr)
    );
    assert!(text(&second.stdout).contains("args=\n"));

    // --appimage-extract gives back the AppDir: contents, modes and links.
    let out = output(
        Command::new(&image)
            .arg("--appimage-extract")
            .current_dir(&work),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let root = work.join("squashfs-root");
    for file in [
        "AppRun",
        "usr/bin/probe",
        "usr/share/probe/notes.txt",
        "probe.desktop",
    ] {
        assert_eq!(
            fs::read(root.join(file)).unwrap(),
            fs::read(appdir.join(file)).unwrap(),
            "{file}"
        );
        let mode = |p: PathBuf| fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode(root.join(file)), mode(appdir.join(file)), "{file}");
    }
    assert_eq!(
        fs::read_link(root.join("usr/bin/probe-alias")).unwrap(),
        PathBuf::from("probe")
    );
    // A second extract would mix two images: refused, nothing touched.
    let again = output(
        Command::new(&image)
            .arg("--appimage-extract")
            .current_dir(&work),
    );
    assert!(!again.status.success());
    assert!(text(&again.stderr).contains("exists already"));
    let unknown = output(Command::new(&image).arg("--appimage-mount"));
    assert!(!unknown.status.success());
    assert!(text(&unknown.stderr).contains("--appimage-help lists"));
}

#[test]
fn a_damaged_image_says_so_and_leaves_no_half_unpacked_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, image) = probe_image(tmp.path(), "Probe.AppImage");
    let bytes = fs::read(&image).unwrap();
    let runtime_len = fs::metadata(RUNTIME).unwrap().len() as usize;
    // Cut just after the squashfs's superblock, as an interrupted download would (mksquashfs pads
    // the image to 4 KiB, so a cut in the padding would lose nothing).
    let cut = tmp.path().join("Cut.AppImage");
    fs::write(&cut, &bytes[..runtime_len + 200]).unwrap();
    fs::set_permissions(&cut, fs::Permissions::from_mode(0o755)).unwrap();
    let cache = tmp.path().join("cache");
    let out = run_image(&cut, &cache, tmp.path(), &[]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("download it again"), "{err}");
    let left: Vec<_> = fs::read_dir(cache.join("appimage"))
        .map(|d| d.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn a_cache_that_cannot_hold_the_image_says_where_and_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, image) = probe_image(tmp.path(), "Probe.AppImage");
    // A file where the cache folder should be: nothing can be created under it (even as root).
    let cache = tmp.path().join("not-a-folder");
    fs::write(&cache, "").unwrap();
    let out = run_image(&image, &cache, tmp.path(), &[]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("cannot unpack into {}", cache.display())),
        "{err}"
    );
    assert!(
        err.contains("set XDG_CACHE_HOME to a folder with room"),
        "{err}"
    );
    assert!(
        !text(&out.stdout).contains("args="),
        "the program must not have run"
    );
}

#[test]
fn the_deployer_copies_what_a_program_needs_and_points_it_there() {
    need("patchelf", "patchelf");
    // secret-tool (libsecret-tools) needs libsecret and GLib, which a desktop does not promise.
    let program = Path::new("/usr/bin/secret-tool");
    assert!(
        program.is_file(),
        "apt install libsecret-tools (scripts/setup.sh test does)"
    );
    let tmp = tempfile::tempdir().unwrap();
    let appdir = tmp.path().join("T.AppDir");
    fs::create_dir_all(appdir.join("usr/bin")).unwrap();
    fs::copy(program, appdir.join("usr/bin/secret-tool")).unwrap();
    let out = deploy(&appdir, None, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let lib = appdir.join("usr/lib");
    assert!(lib.join("libsecret-1.so.0").is_file());
    assert!(lib.join("libglib-2.0.so.0").is_file());
    // glibc and the compiler runtime stay the host's.
    assert!(!lib.join("libc.so.6").exists());
    assert!(!lib.join("libgcc_s.so.1").exists());
    let rpath = Command::new("patchelf")
        .args(["--print-rpath"])
        .arg(appdir.join("usr/bin/secret-tool"))
        .output()
        .unwrap();
    assert_eq!(text(&rpath.stdout).trim(), "$ORIGIN/../lib");
    // The loader now takes libsecret from the AppDir.
    let ldd = Command::new("ldd")
        .arg(appdir.join("usr/bin/secret-tool"))
        .env("LC_ALL", "C")
        .output()
        .unwrap();
    let ldd = text(&ldd.stdout);
    let line = ldd
        .lines()
        .find(|l| l.contains("libsecret-1.so.0 =>"))
        .unwrap_or_else(|| panic!("{ldd}"));
    assert!(
        line.contains(&format!(
            "{}/usr/bin/../lib/libsecret-1.so.0",
            appdir.display()
        )),
        "{line}"
    );
}
