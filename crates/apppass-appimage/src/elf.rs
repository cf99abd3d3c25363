//! The few ELF facts an AppImage needs: where the runtime ends (the squashfs begins there) and
//! the type 2 magic bytes.

/// Where the AppImage magic sits: in the ELF identification's padding, which loaders ignore.
pub const MAGIC_OFFSET: usize = 8;
/// "AI" and the AppImage type, 2.
pub const MAGIC: [u8; 3] = *b"AI\x02";
/// The part of an ELF file read to find its end: the 64-bit header.
pub const HEADER_LEN: usize = 64;

/// Whether `bytes` (a file's first bytes) start an ELF file.
pub fn is_elf(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\x7fELF")
}

/// The byte offset where an ELF file's last part, the section header table, ends. The runtime is
/// built so that nothing follows that table, so an AppImage's squashfs starts there.
///
/// Only 64-bit little-endian ELF (x86_64, aarch64), what apppass ships.
pub fn end(header: &[u8]) -> Result<u64, String> {
    if header.len() < HEADER_LEN || !is_elf(header) {
        return Err("not an ELF file".into());
    }
    if header[4] != 2 || header[5] != 1 {
        return Err("not a 64-bit little-endian ELF file".into());
    }
    let u16_at = |at: usize| u64::from(u16::from_le_bytes([header[at], header[at + 1]]));
    let mut shoff = [0u8; 8];
    shoff.copy_from_slice(&header[0x28..0x30]);
    let shoff = u64::from_le_bytes(shoff);
    let (entsize, count) = (u16_at(0x3a), u16_at(0x3c));
    if shoff == 0 || count == 0 {
        return Err("the ELF file has no section header table, so its end is unknown".into());
    }
    Ok(shoff + entsize * count)
}

/// Sets the type 2 magic bytes in a runtime's header.
pub fn mark(runtime: &mut [u8]) {
    runtime[MAGIC_OFFSET..MAGIC_OFFSET + MAGIC.len()].copy_from_slice(&MAGIC);
}

/// Whether a file's header carries the type 2 magic.
pub fn is_marked(header: &[u8]) -> bool {
    header.get(MAGIC_OFFSET..MAGIC_OFFSET + MAGIC.len()) == Some(&MAGIC[..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn own_executable() -> Vec<u8> {
        std::fs::read(std::env::current_exe().unwrap()).unwrap()
    }

    #[test]
    fn the_end_of_a_linked_executable_is_its_length() {
        // The test binary itself: the linker writes the section header table last.
        let bytes = own_executable();
        assert_eq!(end(&bytes[..HEADER_LEN]).unwrap(), bytes.len() as u64);
    }

    #[test]
    fn elf_files_are_told_by_their_first_bytes() {
        assert!(is_elf(b"\x7fELF\x02\x01"));
        assert!(!is_elf(b"#!/bin/sh"));
        assert!(!is_elf(b""));
    }

    #[test]
    fn other_files_are_refused_with_a_reason() {
        assert_eq!(end(b"#!/bin/sh\n").unwrap_err(), "not an ELF file");
        let mut header = own_executable()[..HEADER_LEN].to_vec();
        header[4] = 1; // 32-bit
        assert_eq!(
            end(&header).unwrap_err(),
            "not a 64-bit little-endian ELF file"
        );
        let mut header = own_executable()[..HEADER_LEN].to_vec();
        header[0x28..0x30].fill(0);
        assert!(end(&header)
            .unwrap_err()
            .contains("no section header table"));
    }

    #[test]
    fn marking_sets_the_magic_and_keeps_the_end() {
        let mut header = own_executable()[..HEADER_LEN].to_vec();
        let before = end(&header).unwrap();
        assert!(!is_marked(&header));
        mark(&mut header);
        assert!(is_marked(&header));
        assert_eq!(&header[8..11], b"AI\x02");
        assert_eq!(end(&header).unwrap(), before);
    }
}
