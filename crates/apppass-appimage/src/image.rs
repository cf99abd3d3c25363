//! Reading an AppImage: where its squashfs starts, which build it is, and unpacking it.

use std::fs::{self, File};
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use backhand::{FilesystemReader, InnerNode};

use crate::{elf, failure};

/// A squashfs (v4, little-endian) starts with these bytes.
pub const SQUASHFS_MAGIC: [u8; 4] = *b"hsqs";
/// Written last into an unpacked image's folder: without it the folder is not used.
pub const COMPLETE_MARK: &str = ".apppass-unpacked";

/// Where the squashfs starts in the AppImage at `path` (the end of its runtime).
pub fn squashfs_offset(path: &Path) -> io::Result<u64> {
    let mut file = File::open(path)?;
    let mut header = [0u8; elf::HEADER_LEN];
    file.read_exact(&mut header)
        .map_err(|_| damaged(path, "it is shorter than an ELF header"))?;
    let offset = elf::end(&header).map_err(|why| damaged(path, &why))?;
    let mut magic = [0u8; 4];
    file.seek(SeekFrom::Start(offset))?;
    if file.read_exact(&mut magic).is_err() || magic != SQUASHFS_MAGIC {
        return Err(damaged(
            path,
            &format!("there is no squashfs at byte {offset}, where its runtime ends"),
        ));
    }
    Ok(offset)
}

fn damaged(path: &Path, why: &str) -> io::Error {
    failure(format!(
        "{} is not a complete AppImage ({why}); download it again",
        path.display()
    ))
}

/// A short name for this build of the image, so that each build unpacks into its own folder:
/// FNV-1a (64 bits) over the squashfs's length, its superblock (with its creation time and
/// size) and its last 64 KiB (the tables of inodes, directories and fragments).
pub fn build_key(path: &Path, offset: u64) -> io::Result<String> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let size = len.saturating_sub(offset);
    let mut hash = Fnv::default();
    hash.write(&size.to_le_bytes());
    let mut superblock = [0u8; 96];
    file.seek(SeekFrom::Start(offset))?;
    file.read_exact(&mut superblock)?;
    hash.write(&superblock);
    let tail_start = len.saturating_sub(64 * 1024).max(offset);
    file.seek(SeekFrom::Start(tail_start))?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail)?;
    hash.write(&tail);
    Ok(format!("{:016x}", hash.0))
}

struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// What [`unpack`] wrote.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Unpacked {
    pub files: u64,
    pub bytes: u64,
    pub links: u64,
    pub dirs: u64,
}

/// Unpacks the squashfs that starts at `offset` in `image` into `dest` (which must not hold
/// anything of the same names): regular files with their modes, folders and symbolic links.
/// Devices, pipes and sockets, which an AppDir does not have, are skipped.
pub fn unpack(image: &Path, offset: u64, dest: &Path) -> io::Result<Unpacked> {
    let reader = BufReader::new(File::open(image)?);
    let fs = FilesystemReader::from_reader_with_offset(reader, offset).map_err(|e| {
        failure(format!(
            "{}: its file system cannot be read ({}); download it again",
            image.display(),
            reason(&e)
        ))
    })?;
    let mut done = Unpacked::default();
    let mut dirs = Vec::new();
    fs::create_dir_all(dest)?;
    for node in fs.files() {
        let target = dest.join(inside(&node.fullpath)?);
        let mode = u32::from(node.header.permissions) & 0o7777;
        match &node.inner {
            InnerNode::Dir(_) => {
                fs::create_dir_all(&target)?;
                dirs.push((target, mode));
                done.dirs += 1;
            }
            InnerNode::File(file) => {
                if let Some(parent) = target.parent() {
                    fs::create_dir_all(parent)?;
                }
                let mut from = fs.file(file).reader_checked().map_err(|e| {
                    failure(format!(
                        "{}: {} cannot be read ({}); download it again",
                        image.display(),
                        node.fullpath.display(),
                        reason(&e)
                    ))
                })?;
                let mut to = File::create(&target)?;
                done.bytes += io::copy(&mut from, &mut to)?;
                fs::set_permissions(&target, fs::Permissions::from_mode(mode))?;
                done.files += 1;
            }
            InnerNode::Symlink(link) => {
                if let Some(parent) = target.parent() {
                    fs::create_dir_all(parent)?;
                }
                symlink(&link.link, &target)?;
                done.links += 1;
            }
            _ => {}
        }
    }
    // Folders last (a read-only one would refuse its files), always writable by their owner so
    // that the cache can be deleted.
    for (dir, mode) in dirs.into_iter().rev() {
        fs::set_permissions(&dir, fs::Permissions::from_mode(mode | 0o700))?;
    }
    Ok(done)
}

/// backhand's message, or its error's name when built without messages (as here, to stay small).
fn reason(e: &backhand::BackhandError) -> String {
    match e.to_string() {
        why if why.is_empty() => format!("{e:?}"),
        why => why,
    }
}

/// An image path (`/usr/bin/x`) as a path inside the destination; `..` is refused.
fn inside(path: &Path) -> io::Result<PathBuf> {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(name) => out.push(name),
            _ => {
                return Err(failure(format!(
                    "the AppImage holds the path {}, which leaves its folder; it is not used",
                    path.display()
                )))
            }
        }
    }
    Ok(out)
}

/// The folder where a build of an image is unpacked:
/// `$XDG_CACHE_HOME/appimage/<image name>-<build key>` (or under `$HOME/.cache`).
pub fn cache_folder(
    image: &Path,
    key: &str,
    xdg_cache_home: Option<&str>,
    home: Option<&str>,
) -> io::Result<PathBuf> {
    let cache = match (xdg_cache_home, home) {
        (Some(dir), _) if dir.starts_with('/') => PathBuf::from(dir),
        (_, Some(home)) if home.starts_with('/') => Path::new(home).join(".cache"),
        _ => {
            return Err(failure(
                "neither XDG_CACHE_HOME nor HOME is set to an absolute path, so there is no folder \
                 to unpack the AppImage into; set HOME, or unpack it by hand with --appimage-extract",
            ))
        }
    };
    let stem = image
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "appimage".into());
    Ok(cache.join("appimage").join(format!("{stem}-{key}")))
}

/// Unpacks the image into `folder` unless an earlier run did. Another process may unpack at the
/// same time: each writes its own `<folder>.partial-<pid>`, and the first rename wins.
/// Returns what was unpacked, or `None` if the folder was ready.
pub fn unpack_once(image: &Path, offset: u64, folder: &Path) -> io::Result<Option<Unpacked>> {
    if folder.join(COMPLETE_MARK).exists() {
        return Ok(None);
    }
    let mut partial = folder.as_os_str().to_owned();
    partial.push(format!(".partial-{}", std::process::id()));
    let partial = PathBuf::from(partial);
    if partial.exists() {
        fs::remove_dir_all(&partial)?;
    }
    let done = match unpack(image, offset, &partial) {
        Ok(done) => done,
        Err(e) => {
            let _ = fs::remove_dir_all(&partial);
            return Err(e);
        }
    };
    fs::write(partial.join(COMPLETE_MARK), b"")?;
    if folder.exists() && !folder.join(COMPLETE_MARK).exists() {
        // Left half-made by something else: not ours to trust.
        fs::remove_dir_all(folder)?;
    }
    if let Err(e) = fs::rename(&partial, folder) {
        let _ = fs::remove_dir_all(&partial);
        if !folder.join(COMPLETE_MARK).exists() {
            return Err(e);
        }
    }
    Ok(Some(done))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_paths_stay_inside_the_destination() {
        assert_eq!(
            inside(Path::new("/usr/bin/x")).unwrap(),
            PathBuf::from("usr/bin/x")
        );
        assert_eq!(inside(Path::new("/")).unwrap(), PathBuf::new());
        let err = inside(Path::new("/usr/../../etc/passwd")).unwrap_err();
        assert!(err.to_string().contains("leaves its folder"), "{err}");
    }

    #[test]
    fn the_cache_folder_follows_xdg_then_home() {
        let image = Path::new("/opt/apppass_0.1.0_amd64.AppImage");
        assert_eq!(
            cache_folder(image, "k", Some("/x/cache"), Some("/home/u")).unwrap(),
            PathBuf::from("/x/cache/appimage/apppass_0.1.0_amd64-k")
        );
        // A relative XDG_CACHE_HOME is ignored, as the XDG spec says.
        assert_eq!(
            cache_folder(image, "k", Some("rel"), Some("/home/u")).unwrap(),
            PathBuf::from("/home/u/.cache/appimage/apppass_0.1.0_amd64-k")
        );
        let err = cache_folder(image, "k", None, None).unwrap_err();
        assert!(err.to_string().contains("--appimage-extract"), "{err}");
    }

    #[test]
    fn a_file_without_a_squashfs_is_called_damaged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.AppImage");
        // A runtime alone: an ELF file with nothing after it.
        fs::copy(std::env::current_exe().unwrap(), &path).unwrap();
        let err = squashfs_offset(&path).unwrap_err().to_string();
        assert!(err.contains("no squashfs at byte"), "{err}");
        assert!(err.contains("download it again"), "{err}");
        fs::write(&path, b"short").unwrap();
        let err = squashfs_offset(&path).unwrap_err().to_string();
        assert!(err.contains("shorter than an ELF header"), "{err}");
    }

    #[test]
    fn fnv_matches_its_published_test_vectors() {
        let of = |s: &[u8]| {
            let mut h = Fnv::default();
            h.write(s);
            h.0
        };
        assert_eq!(of(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(of(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(of(b"foobar"), 0x8594_4171_f739_67e8);
    }
}
