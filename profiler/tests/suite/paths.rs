//! Output paths of each kind, made in a private directory (device nodes need root), and what
//! must still hold of them after clprof has written to them. Used by the writer's unit tests
//! too.

use std::{
    ffi::CString,
    io::{self, Read as _},
    os::unix::{
        ffi::OsStrExt as _,
        fs::{MetadataExt as _, PermissionsExt as _},
    },
    path::{Path, PathBuf},
    thread::JoinHandle,
};

pub fn c_path(path: &Path) -> CString {
    CString::new(path.as_os_str().as_bytes()).expect("path without NUL")
}

/// Makes a device node, mode 0620 (needs root).
pub fn mknod(path: &Path, kind: libc::mode_t, major: u32, minor: u32) {
    let dev = libc::makedev(major, minor);
    // SAFETY: a valid C string; mknod only creates the node.
    let rc = unsafe { libc::mknod(c_path(path).as_ptr(), kind | 0o620, dev) };
    assert_eq!(
        rc,
        0,
        "mknod {} (these tests run as root): {}",
        path.display(),
        io::Error::last_os_error()
    );
}

pub fn mkfifo(path: &Path) {
    // SAFETY: a valid C string.
    let rc = unsafe { libc::mkfifo(c_path(path).as_ptr(), 0o640) };
    assert_eq!(rc, 0, "mkfifo: {}", io::Error::last_os_error());
}

/// What must not change about a path: its type and mode, owner, device, inode and link text.
#[derive(Debug, PartialEq)]
pub struct Shape {
    mode: u32,
    uid: u32,
    gid: u32,
    rdev: u64,
    ino: u64,
    link: Option<PathBuf>,
}

pub fn shape(path: &Path) -> Shape {
    let m = std::fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("{} is gone: {e}", path.display()));
    Shape {
        mode: m.mode(),
        uid: m.uid(),
        gid: m.gid(),
        rdev: m.rdev(),
        ino: m.ino(),
        link: m
            .file_type()
            .is_symlink()
            .then(|| std::fs::read_link(path).expect("read_link")),
    }
}

/// The names in `dir`, sorted.
pub fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The kinds of output path every writer must handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A private null device (`mknod c 1 3`): written in place.
    NullDevice,
    /// A FIFO with a reader: receives the output; stays a FIFO.
    Fifo,
    /// A relative symlink to an existing file of mode 0600: the file is written, the link stays.
    Symlink,
    /// An existing file of mode 0640: replaced whole, mode kept.
    ExistingFile,
}

pub const KINDS: [Kind; 4] = [
    Kind::NullDevice,
    Kind::Fifo,
    Kind::Symlink,
    Kind::ExistingFile,
];

/// One output path made as `kind`.
pub struct Prepared {
    pub kind: Kind,
    /// The path to hand to clprof.
    pub path: PathBuf,
    before: Shape,
    /// The regular file that should end up with the output (the link's target).
    file: Option<PathBuf>,
    file_mode: u32,
    /// The FIFO's reader: everything it read until the writer closed.
    reader: Option<JoinHandle<Vec<u8>>>,
}

impl Prepared {
    /// Makes `dir/name` as `kind` (a symlink's target goes in `dir/real/`).
    pub fn make(kind: Kind, dir: &Path, name: &str) -> Prepared {
        let path = dir.join(name);
        let mut file = None;
        let mut file_mode = 0;
        let mut reader = None;
        match kind {
            Kind::NullDevice => mknod(&path, libc::S_IFCHR, 1, 3),
            Kind::Fifo => {
                mkfifo(&path);
                let fifo = path.clone();
                reader = Some(std::thread::spawn(move || {
                    let mut got = Vec::new();
                    std::fs::File::open(fifo)
                        .and_then(|mut f| f.read_to_end(&mut got))
                        .expect("reading the FIFO");
                    got
                }));
            }
            Kind::Symlink => {
                let real = dir.join("real");
                std::fs::create_dir_all(&real).expect("mkdir real");
                let target = real.join(name);
                std::fs::write(&target, "old").expect("write the link's target");
                file_mode = 0o600;
                std::fs::set_permissions(&target, std::fs::Permissions::from_mode(file_mode))
                    .expect("chmod");
                std::os::unix::fs::symlink(Path::new("real").join(name), &path).expect("symlink");
                file = Some(target);
            }
            Kind::ExistingFile => {
                std::fs::write(&path, "old").expect("write");
                file_mode = 0o640;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(file_mode))
                    .expect("chmod");
                file = Some(path.clone());
            }
        }
        let before = shape(&path);
        Prepared {
            kind,
            path,
            before,
            file,
            file_mode,
            reader,
        }
    }

    /// Checks that the path is what it was (type, mode, link, inode of a device or FIFO) and
    /// returns what it received: the FIFO's bytes or the file's new contents; None for the null
    /// device.
    pub fn received(self) -> Option<Vec<u8>> {
        let what = format!("{:?} {}", self.kind, self.path.display());
        match self.kind {
            // A replaced file has a new inode: only its type and mode must hold.
            Kind::ExistingFile => {
                let m = std::fs::symlink_metadata(&self.path).expect("stat");
                assert!(
                    m.file_type().is_file(),
                    "{what} is no longer a regular file"
                );
            }
            _ => assert_eq!(shape(&self.path), self.before, "{what} changed"),
        }
        if let Some(reader) = self.reader {
            return Some(reader.join().expect("FIFO reader"));
        }
        let file = self.file?;
        let mode = std::fs::metadata(&file).expect("stat").mode() & 0o7777;
        assert_eq!(mode, self.file_mode, "{what}: mode {mode:o}");
        let got = std::fs::read(&file).expect("read");
        assert_ne!(got, b"old", "{what} was not written");
        Some(got)
    }
}

/// A small tmpfs, unmounted on drop.
pub struct SmallFs(tempfile::TempDir);

impl SmallFs {
    pub fn mount(bytes: usize) -> SmallFs {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = c_path(dir.path());
        let options = CString::new(format!("size={bytes}")).expect("options");
        // SAFETY: valid C strings; mounts a fresh tmpfs on a private directory.
        let rc = unsafe {
            libc::mount(
                c"tmpfs".as_ptr(),
                target.as_ptr(),
                c"tmpfs".as_ptr(),
                0,
                options.as_ptr().cast(),
            )
        };
        assert_eq!(
            rc,
            0,
            "mount tmpfs (as root): {}",
            io::Error::last_os_error()
        );
        SmallFs(dir)
    }

    pub fn path(&self) -> &Path {
        self.0.path()
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        // SAFETY: unmounts what `mount` mounted.
        unsafe { libc::umount2(c_path(self.0.path()).as_ptr(), libc::MNT_DETACH) };
    }
}
