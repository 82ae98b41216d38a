//! Shared mappings against the real kernel: POSIX shm by name, memfd seals,
//! file-backed and anonymous mappings, and the latency options. Every name
//! is a `TempName`, so nothing stays under /dev/shm even if a test fails.

use std::os::fd::AsFd;

use interlink_linux::memfd::{Memfd, Seals};
use interlink_linux::process::{fork, Exit};
use interlink_linux::shm::{
    self, memlock_limit, HugePages, MapOptions, Mapping, Shm, ShmError, ShmOptions, TempName,
};

fn write(map: &Mapping, offset: usize, byte: u8) {
    assert!(offset < map.len());
    // SAFETY: in bounds of a live writable mapping.
    unsafe { map.as_ptr().add(offset).write_volatile(byte) }
}

fn read(ptr: *const u8, len: usize, offset: usize) -> u8 {
    assert!(offset < len);
    // SAFETY: in bounds of a live mapping.
    unsafe { ptr.add(offset).read_volatile() }
}

#[test]
fn create_open_by_name_in_another_process_and_unlink() {
    let name = TempName::new("il-shm").unwrap();
    let shm = Shm::create(&name, 8192).unwrap();
    assert_eq!(shm.size().unwrap(), 8192);
    let mode = std::fs::metadata(shm.name().path()).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
        0o600
    );
    // Exclusive by default.
    let again = Shm::create(&name, 8192).unwrap_err();
    assert!(again.is(libc::EEXIST), "{again}");
    assert!(again.to_string().contains(name.as_str()), "{again}");

    let map = shm.map(&MapOptions::new()).unwrap();
    let child_name = name.as_str().to_owned();
    let child = fork(move || {
        // The child finds the object by name alone and writes through it.
        let Ok(shm) = Shm::open(&child_name) else {
            return 2;
        };
        let Ok(map) = shm.map(&MapOptions::new().prefault(false)) else {
            return 3;
        };
        write(&map, 5000, 0x5a);
        0
    })
    .unwrap();
    assert_eq!(child.wait().unwrap(), Exit::Code(0));
    assert_eq!(read(map.as_ptr(), map.len(), 5000), 0x5a);

    shm.unlink().unwrap();
    let gone = Shm::open(&name).unwrap_err();
    assert!(gone.is(libc::ENOENT), "{gone}");
    // The mapping outlives the name.
    write(&map, 0, 1);
}

#[test]
fn non_exclusive_create_opens_and_resizes() {
    let name = TempName::new("il-shm").unwrap();
    let opts = ShmOptions::new()
        .exclusive(false)
        .mode(0o640)
        .reserve(false);
    Shm::create_with(&name, 4096, &opts).unwrap();
    let shm = Shm::create_with(&name, 3 * 4096, &opts).unwrap();
    assert_eq!(shm.size().unwrap(), 3 * 4096);
}

#[test]
fn a_mapping_unlinks_its_name_on_drop_but_not_a_newer_objects() {
    let name = TempName::new("il-shm").unwrap();
    let shm = Shm::create(&name, 4096).unwrap();
    let mut map = shm.map(&MapOptions::new()).unwrap();
    map.unlink_on_drop_of(&shm).unwrap();
    assert_eq!(map.unlinks().map(|n| n.as_str()), Some(name.as_str()));
    drop(map);
    assert!(Shm::open(&name).unwrap_err().is(libc::ENOENT));

    // The name is reused by a newer object before the old mapping drops.
    let old = Shm::create(&name, 4096).unwrap();
    let mut old_map = old.map(&MapOptions::new()).unwrap();
    old_map.unlink_on_drop_of(&old).unwrap();
    old.unlink().unwrap();
    let newer = Shm::create(&name, 4096).unwrap();
    drop(old_map);
    assert_eq!(
        Shm::open(&name).unwrap().identity().unwrap(),
        newer.identity().unwrap()
    );

    // keep_name cancels the unlink.
    let mut kept = newer.map(&MapOptions::new()).unwrap();
    kept.unlink_on_drop_of(&newer).unwrap();
    kept.keep_name();
    drop(kept);
    assert!(Shm::open(&name).is_ok());
}

#[test]
fn bad_names_and_sizes_are_clear_errors_before_any_syscall() {
    for bad in ["no-slash", "/a/b", "/", ""] {
        let e = Shm::create(bad, 4096).unwrap_err();
        assert!(matches!(e, ShmError::Name { .. }), "{bad:?}: {e}");
        assert!(matches!(Shm::open(bad), Err(ShmError::Name { .. })));
        assert!(matches!(shm::unlink(bad), Err(ShmError::Name { .. })));
    }
    let name = TempName::new("il-shm").unwrap();
    let e = Shm::create(&name, 0).unwrap_err();
    assert!(matches!(e, ShmError::Size { len: 0, .. }), "{e}");
    let e = Shm::create(&name, usize::MAX).unwrap_err();
    assert!(matches!(e, ShmError::Size { .. }), "{e}");
    assert!(Shm::open(&name).unwrap_err().is(libc::ENOENT));
}

#[test]
fn a_size_beyond_the_free_space_is_refused_and_leaves_nothing() {
    let name = TempName::new("il-shm").unwrap();
    let huge = 1usize << 50; // 1 PiB: far more than /dev/shm holds
    let e = Shm::create(&name, huge).unwrap_err();
    match &e {
        ShmError::NoSpace {
            needed, available, ..
        } => assert!(needed > available),
        other => panic!("expected NoSpace, got {other}"),
    }
    assert!(e.to_string().contains("free"), "{e}");
    // The half-made object was unlinked again.
    assert!(Shm::open(&name).unwrap_err().is(libc::ENOENT));
}

#[test]
fn an_empty_object_cannot_be_mapped() {
    let name = TempName::new("il-shm").unwrap();
    // What an opener sees between the creator's shm_open and ftruncate.
    std::fs::File::create(shm::ShmName::new(&name).unwrap().path()).unwrap();
    let shm = Shm::open(&name).unwrap();
    assert_eq!(shm.size().unwrap(), 0);
    assert!(matches!(
        shm.map(&MapOptions::new()),
        Err(ShmError::Size { len: 0, .. })
    ));
}

#[test]
fn read_only_mappings_read_headers_without_trusting_them() {
    let name = TempName::new("il-shm").unwrap();
    let shm = Shm::create(&name, 32).unwrap();
    let ro = Shm::open_read_only(&name).unwrap().map_read_only().unwrap();
    assert_eq!(ro.len(), 32);
    assert!(
        ro.header().is_err(),
        "32 bytes cannot hold a 64-byte header"
    );
    assert_eq!(ro.load_u32(28), Some(0));
    assert_eq!(ro.load_u32(29), None);
    assert_eq!(ro.load_u32(32), None);
    assert_eq!(ro.load_u32(usize::MAX - 1), None);
    // A read-only descriptor cannot be mapped writable.
    let e = Shm::open_read_only(&name)
        .unwrap()
        .map(&MapOptions::new())
        .unwrap_err();
    assert!(e.is(libc::EACCES), "{e}");
    drop(shm);
}

/// Clears `CAP_IPC_LOCK` from this process's effective set (root has it,
/// and it exempts `mlock` from the limit). For a forked child only.
fn drop_ipc_lock_capability() -> bool {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const CAP_IPC_LOCK: u32 = 14;
    let mut header = Header {
        version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    // SAFETY: capget/capset with a v3 header and two data structs, as the
    // kernel's ABI requires; both are valid pointers.
    unsafe {
        if libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) != 0 {
            return false;
        }
        data[0].effective &= !(1 << CAP_IPC_LOCK);
        libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) == 0
    }
}

#[test]
fn mlock_works_inside_the_limit_and_names_it_past_it() {
    let mut small = Mapping::anonymous_with(64 << 10, &MapOptions::new().lock(true)).unwrap();
    assert!(small.is_locked());
    small.lock().unwrap();
    let limit = memlock_limit();
    if limit == u64::MAX {
        return; // unlimited here: nothing to exceed
    }
    // In a child without CAP_IPC_LOCK, so that the limit applies even to root.
    let child = fork(move || {
        if !drop_ipc_lock_capability() {
            return 2;
        }
        let too_big = (limit as usize) * 2;
        let opts = MapOptions::new().prefault(false).lock(true);
        match Mapping::anonymous_with(too_big, &opts) {
            Err(e @ ShmError::Memlock { limit: l, .. })
                if l == limit && e.to_string().contains("RLIMIT_MEMLOCK") =>
            {
                0
            }
            Err(_) => 3,
            Ok(_) => 4,
        }
    })
    .unwrap();
    assert_eq!(child.wait().unwrap(), Exit::Code(0));
}

#[test]
fn huge_pages_fail_clearly_or_fall_back() {
    let len = 4 << 20;
    match Mapping::anonymous_with(len, &MapOptions::new().huge_pages(HugePages::Explicit)) {
        Ok(map) => assert_eq!(map.huge_pages(), HugePages::Explicit),
        Err(e) => {
            assert!(matches!(e, ShmError::HugePages { .. }), "{e}");
            assert!(e.to_string().contains("nr_hugepages"), "{e}");
        }
    }
    let opts = MapOptions::new().huge_pages(HugePages::ExplicitOrTransparent);
    let map = Mapping::anonymous_with(len, &opts).unwrap();
    assert!(matches!(
        map.huge_pages(),
        HugePages::Explicit | HugePages::Transparent
    ));
    write(&map, len - 1, 7);
    let thp = Mapping::anonymous_with(len, &MapOptions::new().huge_pages(HugePages::Transparent))
        .unwrap();
    assert_eq!(thp.huge_pages(), HugePages::Transparent);

    // A shm object cannot be hugetlb-backed: explicit is an error, the
    // fallback is transparent.
    let name = TempName::new("il-shm").unwrap();
    let shm = Shm::create(&name, len).unwrap();
    let e = shm
        .map(&MapOptions::new().huge_pages(HugePages::Explicit))
        .unwrap_err();
    assert!(matches!(e, ShmError::HugePages { .. }), "{e}");
    assert_eq!(shm.map(&opts).unwrap().huge_pages(), HugePages::Transparent);
}

/// Minor page faults this process has taken so far.
fn minor_faults() -> i64 {
    // SAFETY: an all-zero rusage is a valid value for getrusage to fill.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid rusage to fill.
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) }, 0);
    usage.ru_minflt
}

#[test]
fn populate_spares_a_forked_child_the_first_touch_faults() {
    const PAGES: usize = 256;
    let map = Mapping::anonymous(PAGES * 4096).unwrap();
    // In a child (which inherits no page-table entries of the shared
    // mapping): the minor faults taken while writing one byte per page.
    let faults_in_child = |populate: bool| {
        let child = fork(|| {
            if populate && map.populate().is_err() {
                return 100;
            }
            let before = minor_faults();
            for page in 0..PAGES {
                write(&map, page * 4096, 1);
            }
            // Exit code: the faults, capped (a few come from the child's
            // own stack, copied on write).
            (minor_faults() - before).min(99) as i32
        })
        .unwrap();
        match child.wait().unwrap() {
            Exit::Code(100) => panic!("MADV_POPULATE_WRITE failed"),
            Exit::Code(n) => n,
            other => panic!("child: {other:?}"),
        }
    };
    // Without populate the child faults on (nearly) every page.
    assert!(faults_in_child(false) >= 64);
    assert!(faults_in_child(true) <= 8);
}

#[test]
fn anonymous_shared_mapping_with_options_is_shared_over_fork() {
    let map = Mapping::anonymous_with(1 << 20, &MapOptions::new()).unwrap();
    let child = fork(|| {
        write(&map, 12345, 9);
        0
    })
    .unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(read(map.as_ptr(), map.len(), 12345), 9);
}

#[test]
fn memfd_size_seals_and_read_only_sharing() {
    let fd = Memfd::create("interlink-test", 8192).unwrap();
    assert_eq!(fd.size().unwrap(), 8192);
    let writer = fd.map(&MapOptions::new()).unwrap();
    fd.add_seals(Seals::SIZE).unwrap();
    assert!(fd.seals().unwrap().contains(Seals::SIZE));
    assert!(fd.set_size(4096).unwrap_err().is(libc::EPERM));
    assert!(fd.set_size(16384).unwrap_err().is(libc::EPERM));

    // F_SEAL_WRITE needs no writable mapping to exist.
    assert!(fd.add_seals(Seals::WRITE).unwrap_err().is(libc::EBUSY));

    // FUTURE_WRITE: our mapping keeps writing; new mappings are read-only.
    fd.add_seals(Seals::FUTURE_WRITE).unwrap();
    assert!(fd.map(&MapOptions::new()).unwrap_err().is(libc::EPERM));
    let reader = fd.map_read_only().unwrap();
    write(&writer, 100, 42);
    assert_eq!(read(reader.as_ptr(), reader.len(), 100), 42);

    // A forked child inherits the descriptor and sees the same bytes.
    let child = fork(|| {
        let Ok(ro) = fd.map_read_only() else { return 2 };
        i32::from(read(ro.as_ptr(), ro.len(), 100))
    })
    .unwrap();
    assert_eq!(child.wait().unwrap(), Exit::Code(42));

    fd.add_seals(Seals::SEAL).unwrap();
    assert!(fd.add_seals(Seals::GROW).unwrap_err().is(libc::EPERM));
    assert!(matches!(
        Memfd::create("a\0b", 1),
        Err(ShmError::Name { .. })
    ));
    assert!(matches!(Memfd::create("x", 0), Err(ShmError::Size { .. })));
    let _ = fd.as_fd();
}

#[test]
fn file_backed_mapping_writes_reach_the_file() {
    let path = std::env::temp_dir().join(format!("interlink-file-{}", std::process::id()));
    struct Remove(std::path::PathBuf);
    impl Drop for Remove {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
    let _guard = Remove(path.clone());
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .unwrap();
    file.set_len(4096).unwrap();
    let map = Mapping::file(&file, &MapOptions::new()).unwrap();
    assert_eq!(map.len(), 4096);
    write(&map, 10, b'x');
    drop(map);
    assert_eq!(std::fs::read(&path).unwrap()[10], b'x');
    let empty = std::fs::File::open("/dev/null").unwrap();
    assert!(Mapping::file(&empty, &MapOptions::new()).is_err());
}
