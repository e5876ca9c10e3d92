//! The writer against each kind of path, in private temporary directories (as root: device
//! nodes are made with mknod, and one case mounts a small tmpfs).

use std::{
    io::Read as _,
    os::unix::fs::{FileTypeExt as _, MetadataExt as _, PermissionsExt as _},
    path::{Path, PathBuf},
};

use super::*;

#[path = "../../tests/suite/paths.rs"]
mod paths;
use paths::*;

fn one_line(err: &WriteError) -> String {
    let text = err.to_string();
    assert_eq!(text.lines().count(), 1, "one line: {text}");
    text
}

#[test]
fn a_new_file_gets_the_umask_mode_and_no_temporary_file_stays() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("report.json");
    write(&path, b"{}\n", NoReader::Wait).expect("write");
    assert_eq!(std::fs::read(&path).expect("read"), b"{}\n");
    let mode = std::fs::metadata(&path).expect("stat").mode() & 0o777;
    assert_eq!(mode, 0o666 & !umask(), "mode {mode:o}");
    assert_eq!(names(dir.path()), ["report.json"]);
}

#[test]
fn an_existing_file_keeps_its_mode_and_owner() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("report.json");
    std::fs::write(&path, "old").expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    std::os::unix::fs::chown(&path, Some(4321), Some(8765)).expect("chown (as root)");
    write(&path, b"new contents", NoReader::Wait).expect("write");
    assert_eq!(std::fs::read(&path).expect("read"), b"new contents");
    let m = std::fs::metadata(&path).expect("stat");
    assert_eq!(m.mode() & 0o7777, 0o640, "mode {:o}", m.mode());
    assert_eq!((m.uid(), m.gid()), (4321, 8765));
    assert_eq!(names(dir.path()), ["report.json"]);
}

#[test]
fn each_kind_of_path_is_written_as_it_should() {
    let dir = tempfile::tempdir().expect("tempdir");
    // More than a pipe holds, so the FIFO case needs its reader.
    let data: Vec<u8> = (0..300_000u32).map(|i| i as u8).collect();
    for kind in KINDS {
        let prepared = Prepared::make(kind, dir.path(), &format!("{kind:?}"));
        write(&prepared.path, &data, NoReader::Wait).unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        if let Some(got) = prepared.received() {
            assert!(got == data, "{kind:?} received {} bytes", got.len());
        }
    }
    // Streamed output to a device, as --save-samples writes it.
    let null = dir.path().join("NullDevice");
    let before = shape(&null);
    let mut out = Output::open(&null, NoReader::Wait).expect("open");
    out.write_all(&data).expect("stream");
    out.finish().expect("finish");
    assert_eq!(shape(&null), before, "the device node was replaced");
    assert!(std::fs::metadata(&null)
        .expect("stat")
        .file_type()
        .is_char_device());
    assert_eq!(
        names(dir.path()),
        ["ExistingFile", "Fifo", "NullDevice", "Symlink", "real"],
        "no temporary file stays"
    );
    assert_eq!(names(&dir.path().join("real")), ["Symlink"]);
}

#[test]
fn a_dangling_symlink_gets_its_target_created() {
    let dir = tempfile::tempdir().expect("tempdir");
    let link = dir.path().join("out.json");
    std::os::unix::fs::symlink(dir.path().join("made.json"), &link).expect("symlink");
    let before = shape(&link);
    write(&link, b"made", NoReader::Wait).expect("write");
    assert_eq!(shape(&link), before);
    assert_eq!(
        std::fs::read(dir.path().join("made.json")).expect("read"),
        b"made"
    );
}

#[test]
fn a_write_error_on_a_device_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let full = dir.path().join("full");
    mknod(&full, libc::S_IFCHR, 1, 7);
    let before = shape(&full);
    let err = write(&full, b"x", NoReader::Wait).expect_err("/dev/full refuses writes");
    let text = one_line(&err);
    assert!(text.contains("No space left"), "{text}");
    assert_eq!(shape(&full), before);
}

#[test]
fn a_fifo_without_a_reader_fails_when_told_not_to_wait() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("pipe");
    mkfifo(&fifo);
    let before = shape(&fifo);
    let err = write(&fifo, b"x", NoReader::Fail).expect_err("nobody reads");
    assert!(matches!(err, WriteError::NoReader { .. }), "{err}");
    assert!(one_line(&err).contains("no process is reading"), "{err}");
    assert_eq!(shape(&fifo), before);
    assert_eq!(names(dir.path()), ["pipe"]);
}

#[test]
fn a_unix_socket_receives_the_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sock = dir.path().join("sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).expect("bind");
    let before = shape(&sock);
    let reader = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        let mut got = Vec::new();
        stream.read_to_end(&mut got).expect("read");
        got
    });
    write(&sock, b"over the socket", NoReader::Wait).expect("write");
    assert_eq!(reader.join().expect("reader"), b"over the socket");
    assert_eq!(shape(&sock), before);
}

#[test]
fn own_descriptors_by_name_are_written_in_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("log");
    std::fs::write(&log, "first\n").expect("write");
    let before = shape(&log);
    let appending = std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .expect("open");
    use std::os::fd::AsRawFd as _;
    for name in ["/proc/self/fd", "/dev/fd"] {
        let path = PathBuf::from(format!("{name}/{}", appending.as_raw_fd()));
        write(&path, b"more\n", NoReader::Wait).expect("write through the descriptor");
    }
    assert_eq!(
        std::fs::read_to_string(&log).expect("read"),
        "first\nmore\nmore\n"
    );
    assert_eq!(shape(&log), before, "appended in place, not replaced");
    assert!(matches!(classify(Path::new("-")), Ok(Dest::Stdout)));
    assert!(matches!(
        classify(Path::new("/dev/stdout")),
        Ok(Dest::Stdout)
    ));
}

#[test]
fn a_directory_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sub = dir.path().join("reports");
    std::fs::create_dir(&sub).expect("mkdir");
    std::fs::write(sub.join("keep"), "x").expect("write");
    let before = shape(&sub);
    let err = check(&sub).expect_err("a directory is no output");
    assert!(one_line(&err).contains("is a directory"), "{err}");
    let err = write(&sub, b"x", NoReader::Wait).expect_err("a directory is no output");
    assert!(matches!(err, WriteError::IsDirectory { .. }), "{err}");
    assert_eq!(shape(&sub), before);
    assert_eq!(names(&sub), ["keep"]);
    assert_eq!(names(dir.path()), ["reports"]);
}

#[test]
fn a_missing_parent_is_refused_and_nothing_is_created() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("missing/report.json");
    let err = write(&path, b"x", NoReader::Wait).expect_err("no such directory");
    let text = one_line(&err);
    assert!(text.contains("does not exist"), "{text}");
    assert!(text.contains(&dir.path().join("missing").display().to_string()));
    let file = dir.path().join("file");
    std::fs::write(&file, "x").expect("write");
    let err = check(&file.join("report.json")).expect_err("a file is no directory");
    assert!(one_line(&err).contains("is not a directory"), "{err}");
    assert_eq!(names(dir.path()), ["file"]);
}

#[test]
fn a_block_device_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let disk = dir.path().join("disk");
    mknod(&disk, libc::S_IFBLK, 7, 0);
    let before = shape(&disk);
    let err = write(&disk, b"x", NoReader::Wait).expect_err("never onto a disk");
    assert!(one_line(&err).contains("block device"), "{err}");
    assert_eq!(shape(&disk), before);
}

#[test]
fn unfinished_output_leaves_the_old_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("samples.bin");
    std::fs::write(&path, "old").expect("write");
    let mut out = Output::open(&path, NoReader::Wait).expect("create");
    out.write_all(b"partial").expect("write");
    drop(out);
    assert_eq!(std::fs::read(&path).expect("read"), b"old");
    assert_eq!(names(dir.path()), ["samples.bin"]);
}

#[test]
fn a_full_disk_leaves_the_old_file_untouched() {
    let fs = SmallFs::mount(64 * 1024);
    let path = fs.path().join("report.json");
    std::fs::write(&path, "old report").expect("write");
    let before = shape(&path);
    let err =
        write(&path, &vec![b'x'; 1 << 20], NoReader::Wait).expect_err("1 MiB cannot fit in 64 KiB");
    let text = one_line(&err);
    assert!(text.contains("No space left on device"), "{text}");
    assert!(text.contains("left unchanged"), "{text}");
    assert_eq!(std::fs::read(&path).expect("read"), b"old report");
    assert_eq!(shape(&path), before);
    assert_eq!(names(fs.path()), ["report.json"]);

    let new = fs.path().join("new.json");
    let err = write(&new, &vec![b'x'; 1 << 20], NoReader::Wait).expect_err("does not fit");
    assert!(one_line(&err).contains("no file was created"), "{err}");
    assert_eq!(names(fs.path()), ["report.json"]);
}
