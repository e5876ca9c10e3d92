use super::*;

// A Go PIE (-buildmode=pie): PT_LOADs at vaddr 0x400000.., loaded at 0x5612_3400_0000.
const PIE_MAPS: &str = "\
561234000000-56123409b000 r-xp 00000000 fd:01 1234567                    /srv/app/my server (deleted)
56123409b000-561234170000 r--p 0009b000 fd:01 1234567                    /srv/app/my server (deleted)
561234170000-561234193000 rw-p 00170000 fd:01 1234567                    /srv/app/my server (deleted)
561234193000-5612341d3000 rw-p 00000000 00:00 0 
7f0000000000-7f0000021000 rw-p 00000000 00:00 0                          [heap]
7f1000000000-7f1000028000 r--p 00000000 fd:01 777                        /usr/lib/x86_64-linux-gnu/libc.so.6
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]
";

fn go_pie_segments() -> Vec<LoadSegment> {
    vec![
        LoadSegment {
            offset: 0,
            vaddr: 0x400000,
            filesz: 0x9abb0,
            memsz: 0x9abb0,
        },
        LoadSegment {
            offset: 0x9b000,
            vaddr: 0x49b000,
            filesz: 0xd4d18,
            memsz: 0xd4d18,
        },
        LoadSegment {
            offset: 0x170000,
            vaddr: 0x570000,
            filesz: 0x22ae0,
            memsz: 0x22ae0,
        },
    ]
}

#[test]
fn dev_numbers() {
    assert_eq!(split_dev(0xfd01), (0xfd, 1));
    // Large minors: glibc's encoding puts bits above 8 at bit 20.
    assert_eq!(split_dev((0x12 << 8) | 0x34 | (0x5 << 20)), (0x12, 0x534));
}

#[test]
fn parses_maps_lines() {
    let e = parse_maps(PIE_MAPS);
    assert_eq!(e.len(), 7);
    assert_eq!(e[0].start, 0x5612_3400_0000);
    assert_eq!(e[0].end, 0x5612_3409_b000);
    assert_eq!(e[0].perms, "r-xp");
    assert_eq!(e[1].offset, 0x9b000);
    assert_eq!(e[0].dev, (0xfd, 1));
    assert_eq!(e[0].inode, 1234567);
    assert_eq!(e[0].path, "/srv/app/my server");
    assert!(e[0].deleted);
    assert_eq!(e[3].path, "");
    assert_eq!(e[4].path, "[heap]");
    assert!(!e[5].deleted);
    assert!(parse_maps("garbage\n1-2 r\n\n").is_empty());
}

#[test]
fn pie_bias_by_inode() {
    let ident = [FileIdent {
        dev: Some((0xfd, 1)),
        ino: 1234567,
    }];
    let bias = compute_load_bias(PIE_MAPS, &ident, None, &go_pie_segments()).unwrap();
    assert_eq!(bias, 0x5612_3400_0000 - 0x400000);
    // runtime.mapassign_fast64 at file vaddr 0x407400 lands in the r-x mapping.
    assert_eq!(0x407400 + bias, 0x5612_3400_7400);
}

#[test]
fn pie_bias_falls_back_to_inode_then_path() {
    // Other device numbers (overlayfs): inode alone still matches.
    let ident = [FileIdent {
        dev: Some((0, 99)),
        ino: 1234567,
    }];
    let bias = compute_load_bias(PIE_MAPS, &ident, None, &go_pie_segments());
    assert_eq!(bias, Some(0x5612_3400_0000 - 0x400000));
    // No inode match: the path (deleted suffix stripped) does.
    let ident = [FileIdent { dev: None, ino: 5 }];
    let path = Path::new("/srv/app/my server");
    let bias = compute_load_bias(PIE_MAPS, &ident, Some(path), &go_pie_segments());
    assert_eq!(bias, Some(0x5612_3400_0000 - 0x400000));
    // Nothing matches.
    assert_eq!(
        compute_load_bias(PIE_MAPS, &ident, None, &go_pie_segments()),
        None
    );
    assert_eq!(
        compute_load_bias("", &ident, Some(path), &go_pie_segments()),
        None
    );
}

#[test]
fn pie_bias_with_first_mapping_not_at_offset_zero() {
    // A C-style PIE whose vaddr 0 segment was not mapped executable first and a first
    // mapping at a non-zero offset with vaddr != offset.
    let maps = "\
55550000a000-55550000c000 r-xp 00001000 08:02 42 /bin/x
55550000c000-55550000d000 r--p 00003000 08:02 42 /bin/x
";
    let segs = [
        LoadSegment {
            offset: 0x1000,
            vaddr: 0x2000,
            filesz: 0x2000,
            memsz: 0x2000,
        },
        LoadSegment {
            offset: 0x3000,
            vaddr: 0x5000,
            filesz: 0x800,
            memsz: 0x800,
        },
    ];
    let ident = [FileIdent {
        dev: Some((8, 2)),
        ino: 42,
    }];
    let bias = compute_load_bias(maps, &ident, None, &segs).unwrap();
    // vaddr 0x2000 (file offset 0x1000) is at 0x55550000a000.
    assert_eq!(0x2000 + bias, 0x5555_0000_a000);
}

#[test]
fn load_bias_of_a_c_pie_process() {
    use crate::test_support::{c_program, SleepingChild};
    let dir = tempfile::tempdir().unwrap();
    let bin = c_program(dir.path(), "cpie", &["-pie", "-fPIE"]);
    let site = super::super::find_symbol(&bin, "counter_add").unwrap();
    // SleepingChild waits for "ready": spawn can return before execve has mapped the new
    // image (the vfork parent resumes once the child has dropped the old mm).
    let child = SleepingChild::spawn(&bin);
    let pid = child.pid();
    let bias = load_bias_of(pid, &bin).unwrap_or_else(|e| panic!("bias by path: {e}"));
    assert_ne!(bias, 0, "PIE is relocated");
    assert_eq!(bias % 4096, 0);
    let link = PathBuf::from(format!("/proc/{pid}/exe"));
    assert_eq!(load_bias_of(pid, &link).expect("bias by /proc link"), bias);
    // The code the process runs at vaddr + bias is the code in the file at file_offset.
    let mem = std::fs::File::open(format!("/proc/{pid}/mem")).unwrap();
    let mut code = [0u8; 16];
    std::os::unix::fs::FileExt::read_exact_at(&mem, &mut code, site.vaddr + bias).unwrap();
    let file = std::fs::read(&bin).unwrap();
    let off = site.file_offset as usize;
    assert_eq!(&code[..], &file[off..off + 16]);
    // A non-PIE executable needs no bias and no /proc access.
    let fixed = c_program(dir.path(), "cexec", &["-no-pie"]);
    assert_eq!(load_bias_of(u32::MAX, &fixed).unwrap(), 0);
}
