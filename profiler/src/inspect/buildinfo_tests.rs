use super::*;

fn header(flags: u8) -> Vec<u8> {
    let mut h = BUILDINFO_MAGIC.to_vec();
    h.push(8);
    h.push(flags);
    h.resize(BUILDINFO_HEADER, 0);
    h
}

#[test]
fn inline_version() {
    let mut d = header(2);
    d.push(8);
    d.extend_from_slice(b"go1.27.3\x04path");
    assert_eq!(parse_buildinfo_version(&d).as_deref(), Some("go1.27.3"));
}

#[test]
fn bad_or_old_buildinfo_is_none() {
    let mut old = header(0);
    old.extend_from_slice(&[0x10, 0x20, 0x50, 0, 0, 0, 0, 0]);
    assert_eq!(parse_buildinfo_version(&old), None);
    assert_eq!(parse_buildinfo_version(b"short"), None);
    let mut wrong = header(2);
    wrong[1] = b'X';
    wrong.extend_from_slice(b"\x02go");
    assert_eq!(parse_buildinfo_version(&wrong), None);
    // Length past the end, and an unterminated varint.
    let mut long = header(2);
    long.extend_from_slice(b"\x7fgo1");
    assert_eq!(parse_buildinfo_version(&long), None);
    let mut unterminated = header(2);
    unterminated.extend_from_slice(&[0xff; 12]);
    assert_eq!(parse_buildinfo_version(&unterminated), None);
}

#[test]
fn uvarint() {
    assert_eq!(read_uvarint(&[0x05]), Some((5, 1)));
    assert_eq!(read_uvarint(&[0x96, 0x01]), Some((150, 2)));
    assert_eq!(read_uvarint(&[0x80]), None);
}

#[test]
fn go_note() {
    let mut note = Vec::new();
    // An unrelated note first.
    note.extend_from_slice(&4u32.to_le_bytes());
    note.extend_from_slice(&3u32.to_le_bytes());
    note.extend_from_slice(&1u32.to_le_bytes());
    note.extend_from_slice(b"GNU\0abc\0");
    // As cmd/link writes it: namesz 4.
    note.extend_from_slice(&4u32.to_le_bytes());
    note.extend_from_slice(&7u32.to_le_bytes());
    note.extend_from_slice(&4u32.to_le_bytes());
    note.extend_from_slice(b"Go\0\0abc/def\0");
    assert_eq!(
        parse_go_buildid_note(&note, true).as_deref(),
        Some("abc/def")
    );
    assert_eq!(parse_go_buildid_note(&note[..20], true), None);
    assert_eq!(parse_go_buildid_note(&[], true), None);
}

#[test]
fn versions() {
    assert_eq!(parse_go_version("go1.27.3"), Some((1, 27)));
    assert_eq!(parse_go_version("go1.19"), Some((1, 19)));
    assert_eq!(parse_go_version("go1.24rc1"), Some((1, 24)));
    assert_eq!(parse_go_version("devel go1.28-abc123 Tue"), Some((1, 28)));
    assert_eq!(parse_go_version("gox"), None);
    assert_eq!(parse_go_version(""), None);
}
