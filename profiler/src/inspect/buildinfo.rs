//! Go version and build ids of a Go executable.

use object::{Object, ObjectSection};

/// Magic at the start of `.go.buildinfo` (cmd/go/internal/work, debug/buildinfo/buildinfo.go).
const BUILDINFO_MAGIC: &[u8; 14] = b"\xff Go buildinf:";
/// Size of the `.go.buildinfo` header; the inline version string follows it.
const BUILDINFO_HEADER: usize = 32;
/// Flag bit (byte 15): version and module info are inline varint strings (Go 1.18+), not
/// pointers to string headers (debug/buildinfo: flagsVersionInl).
const FLAG_VERSION_INLINE: u8 = 2;
/// Owner and type of the Go build id note (cmd/link/internal/ld/elf.go: ELF_NOTE_GOBUILDID_TAG).
/// The linker writes the name as "Go\0\0" with namesz 4; trailing NULs are ignored.
const GO_NOTE_NAME: &[u8] = b"Go";
const GO_NOTE_BUILDID: u32 = 4;

/// The Go version ("go1.27.3") from `.go.buildinfo`; `None` when the section is missing or uses
/// the pre-1.18 pointer format.
pub(crate) fn go_version<'a, R: object::ReadRef<'a>>(obj: &object::File<'a, R>) -> Option<String> {
    let section = obj.section_by_name(".go.buildinfo")?;
    // The section is small (header, version, module info): read all of it.
    let data = section.data().ok()?;
    parse_buildinfo_version(data)
}

/// Parses the version out of `.go.buildinfo` bytes.
pub(crate) fn parse_buildinfo_version(data: &[u8]) -> Option<String> {
    if data.len() < BUILDINFO_HEADER || &data[..14] != BUILDINFO_MAGIC {
        return None;
    }
    let flags = data[15];
    if flags & FLAG_VERSION_INLINE == 0 {
        // Go 1.13–1.17: the header holds pointers to string headers elsewhere in the data
        // segment. Not needed for layouts we cover (1.19+); report the version as unknown.
        tracing::debug!("pre-Go 1.18 buildinfo format; version unknown");
        return None;
    }
    let (len, n) = read_uvarint(&data[BUILDINFO_HEADER..])?;
    let start = BUILDINFO_HEADER + n;
    let end = start.checked_add(usize::try_from(len).ok()?)?;
    let version = std::str::from_utf8(data.get(start..end)?).ok()?;
    (!version.is_empty()).then(|| version.to_string())
}

/// Decodes an unsigned LEB128 varint (encoding/binary.Uvarint); returns (value, bytes read).
pub(crate) fn read_uvarint(data: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, &b) in data.iter().enumerate().take(10) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

/// Hex of the GNU build id note if present, else the Go build id string, else `None`.
pub(crate) fn build_id<'a, R: object::ReadRef<'a>>(obj: &object::File<'a, R>) -> Option<String> {
    if let Ok(Some(id)) = obj.build_id() {
        if !id.is_empty() {
            return Some(id.iter().map(|b| format!("{b:02x}")).collect());
        }
    }
    let data = obj.section_by_name(".note.go.buildid")?.data().ok()?;
    let little = obj.is_little_endian();
    parse_go_buildid_note(data, little)
}

/// Finds the Go build id in ELF note bytes: (namesz, descsz, type) words, name and desc each
/// padded to 4 bytes.
pub(crate) fn parse_go_buildid_note(mut data: &[u8], little: bool) -> Option<String> {
    let word = |b: &[u8]| -> Option<u32> {
        let a: [u8; 4] = b.get(..4)?.try_into().ok()?;
        Some(if little {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        })
    };
    let pad4 = |n: usize| n.checked_add(3).map(|n| n & !3);
    while data.len() >= 12 {
        let namesz = word(&data[0..])? as usize;
        let descsz = word(&data[4..])? as usize;
        let kind = word(&data[8..])?;
        let name_end = 12usize.checked_add(pad4(namesz)?)?;
        let desc_end = name_end.checked_add(descsz)?;
        let name = data.get(12..12 + namesz)?;
        let desc = data.get(name_end..desc_end)?;
        let owner = name.split(|&b| b == 0).next().unwrap_or(name);
        if owner == GO_NOTE_NAME && kind == GO_NOTE_BUILDID {
            let s = std::str::from_utf8(desc).ok()?.trim_end_matches('\0');
            return (!s.is_empty()).then(|| s.to_string());
        }
        data = data.get(name_end.checked_add(pad4(descsz)?)?..)?;
    }
    None
}

/// (major, minor) of a Go version string: "go1.27.3" → (1, 27), "go1.24rc1" → (1, 24),
/// "devel go1.28-abcdef …" → (1, 28). `None` when it does not look like a Go version.
pub(crate) fn parse_go_version(version: &str) -> Option<(u32, u32)> {
    let at = version.find("go1.")?;
    let rest = &version[at + 2..];
    let (major, rest) = rest.split_once('.')?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some((major.parse().ok()?, digits.parse().ok()?))
}

#[cfg(test)]
#[path = "buildinfo_tests.rs"]
mod tests;
