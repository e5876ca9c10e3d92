//! Binaries clprof cannot profile: each is refused in one line with a nonzero exit, never a
//! panic, before anything is attached or started.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use super::{
    go::{program_with, Go},
    support::*,
};

/// `clprof record -- BIN`: exit status, stderr.
fn record_binary(bin: &Path) -> (bool, String) {
    let out = clprof()
        .args(["record", "--duration", "1s", "--"])
        .arg(bin)
        .output()
        .expect("run clprof");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn refused_in_one_line(what: &str, bin: &Path, says: &str) {
    let (ok, err) = record_binary(bin);
    assert!(!ok, "{what}: clprof succeeded: {err}");
    assert!(!err.contains("panicked"), "{what}: panic: {err}");
    assert_eq!(err.trim().lines().count(), 1, "{what}: not one line: {err}");
    assert!(err.starts_with("clprof: error: "), "{what}: {err}");
    assert!(err.contains(says), "{what}: does not say {says:?}: {err}");
}

/// A copy of `src` in `dir` named `name`, with `edit` applied to its bytes.
fn edited(src: &Path, dir: &Path, name: &str, edit: impl FnOnce(&mut Vec<u8>)) -> PathBuf {
    let mut data = std::fs::read(src).expect("read");
    edit(&mut data);
    let out = dir.join(name);
    std::fs::write(&out, data).expect("write");
    std::fs::set_permissions(&out, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    out
}

/// File offset and size of section `name`.
fn section(data: &[u8], name: &str) -> (usize, usize) {
    use object::{Object as _, ObjectSection as _};
    let file = object::File::parse(data).expect("ELF");
    let (off, len) = file
        .section_by_name(name)
        .and_then(|s| s.file_range())
        .unwrap_or_else(|| panic!("no {name}"));
    (off as usize, len as usize)
}

#[test]
fn unprofilable_binaries_are_refused_in_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stripped = program_with("sharedmap", Go::New, &["-ldflags=-s -w"]);

    // A stripped program that is not Go.
    refused_in_one_line(
        "stripped non-Go ELF",
        Path::new("/bin/true"),
        "no Go map functions",
    );

    // A Go program for another architecture.
    let arm = {
        let go =
            std::env::var_os("CLPROF_GO_NEW").map_or_else(|| PathBuf::from("go"), PathBuf::from);
        let out = dir.path().join("sharedmap-arm64");
        let status = Command::new(&go)
            .args(["build", "-o"])
            .arg(&out)
            .arg("./sharedmap")
            .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/go"))
            .env("GOARCH", "arm64")
            .env("CGO_ENABLED", "0")
            .env("GOTOOLCHAIN", "local")
            .env("GOFLAGS", "-mod=mod")
            .env(
                "GOCACHE",
                Path::new(env!("CARGO_TARGET_TMPDIR")).join("go-programs/gocache"),
            )
            .env("HOME", dir.path())
            .status()
            .expect("run go");
        assert!(status.success(), "GOARCH=arm64 build failed");
        out
    };
    refused_in_one_line("Go for arm64", &arm, "Aarch64");

    // Go's function table with its header zeroed: nothing says where the functions are.
    let no_table = edited(&stripped, dir.path(), "no-table", |d| {
        let (off, _) = section(d, ".gopclntab");
        d[off..off + 64].fill(0);
    });
    refused_in_one_line("zeroed .gopclntab", &no_table, "no Go map functions");

    // Garbage table offsets.
    let garbage = edited(&stripped, dir.path(), "garbage-table", |d| {
        let (off, _) = section(d, ".gopclntab");
        for (i, b) in d[off + 8..off + 72].iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(37) | 0x80;
        }
    });
    refused_in_one_line("corrupt .gopclntab", &garbage, "no Go map functions");

    // The table cut short: the file ends inside it.
    let truncated = edited(&stripped, dir.path(), "truncated", |d| {
        let (off, len) = section(d, ".gopclntab");
        d.truncate(off + len / 3);
    });
    let (ok, err) = record_binary(&truncated);
    assert!(!ok && !err.contains("panicked"), "truncated: {err}");
    assert_eq!(err.trim().lines().count(), 1, "truncated: {err}");

    // Build info overwritten: no Go version, and no DWARF to take the map layout from.
    let no_version = edited(&stripped, dir.path(), "no-buildinfo", |d| {
        let (off, len) = section(d, ".go.buildinfo");
        d[off..off + len].fill(0xff);
    });
    refused_in_one_line("corrupt .go.buildinfo", &no_version, "layout");
}
