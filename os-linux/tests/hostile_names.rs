//! Hostile names and resizing peers (issue 13, holes 4 and 5): whatever
//! sits at a channel's name — a FIFO, a directory, a symlink, a socket —
//! is refused at once on every path that opens a name; a peer resizing a
//! live object cannot kill a process that probes or opens it; an object
//! grown by a peer is refused before it is mapped; and a sealed channel,
//! handed over a Unix socket, cannot be resized at all.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use interlink_core::layout::Kind;
use interlink_core::{AttachError, RingConfig};
use interlink_linux::channel::{ChannelError, ChannelOptions, MpmcChannel, SpscChannel};
use interlink_linux::inspect::{self, State};
use interlink_linux::memfd::{Memfd, Seals};
use interlink_linux::process::{self, Exit};
use interlink_linux::shm::{FileKind, Shm, ShmError, ShmName, ShmOptions, TempName};
use interlink_linux::socket::{recv_with_fds, send_with_fds};

fn quick() -> ChannelOptions {
    ChannelOptions::new().open_timeout(Duration::from_millis(50))
}

/// Runs `f` on a thread and returns its result, or panics if it does not
/// finish within 10 s (a hang: the thread is left blocked).
fn promptly<R: Send + 'static>(what: &str, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(10))
        .unwrap_or_else(|_| panic!("{what}: still blocked after 10 s"))
}

/// Removes whatever is at `path` on drop (a FIFO, directory, link, socket).
struct AtPath(PathBuf);

impl Drop for AtPath {
    fn drop(&mut self) {
        if std::fs::remove_dir(&self.0).is_err() {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

fn path_of(name: &str) -> PathBuf {
    ShmName::new(name).unwrap().path()
}

fn is_not_regular(e: &ShmError, kind: FileKind, path: &std::path::Path) -> bool {
    matches!(e, ShmError::NotRegular { path: p, found } if *found == kind && p == &path.display().to_string())
}

/// Every path that opens a name meets what is at `name` (of `kind`): each
/// returns NotRegular naming the path, none blocks.
fn every_opener_refuses(name: &str, kind: FileKind) {
    let path = path_of(name);
    let n = name.to_owned();
    let results = promptly("opening a non-regular file", move || {
        let non_exclusive = ShmOptions::new().exclusive(false);
        vec![
            ("Shm::open", Shm::open(&n).map(drop)),
            ("Shm::open_read_only", Shm::open_read_only(&n).map(drop)),
            (
                "Shm::create_with(non-exclusive)",
                Shm::create_with(&n, 4096, &non_exclusive).map(drop),
            ),
            ("inspect::probe", inspect::probe(&n).map(drop)),
            (
                "SpscChannel::create",
                SpscChannel::<u64>::create(&n, RingConfig::new(64), &quick())
                    .map(drop)
                    .map_err(unwrap_shm),
            ),
            (
                "SpscChannel::create(non-exclusive)",
                SpscChannel::<u64>::create(
                    &n,
                    RingConfig::new(64),
                    &ChannelOptions {
                        shm: non_exclusive,
                        ..quick()
                    },
                )
                .map(drop)
                .map_err(unwrap_shm),
            ),
            (
                "SpscChannel::open",
                SpscChannel::<u64>::open(&n, &quick())
                    .map(drop)
                    .map_err(unwrap_shm),
            ),
        ]
    });
    for (what, result) in results {
        let e = result.expect_err(what);
        assert!(is_not_regular(&e, kind, &path), "{what}: {e:?}");
        let text = e.to_string();
        assert!(text.contains(&path.display().to_string()), "{what}: {text}");
        assert!(text.contains(&kind.to_string()), "{what}: {text}");
    }
    // ls skips it; nothing is removed.
    let listed = inspect::list().unwrap();
    assert!(listed.iter().all(|(n, _)| n != name));
    assert!(std::fs::symlink_metadata(&path).is_ok());
}

fn unwrap_shm(e: ChannelError) -> ShmError {
    match e {
        ChannelError::Shm(e) => e,
        other => panic!("expected a ShmError, got {other:?}"),
    }
}

#[test]
fn a_fifo_at_the_name_is_refused_at_once() {
    let name = TempName::new("il-hostile").unwrap();
    let path = path_of(&name);
    let c_path = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a valid C string.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    let _guard = AtPath(path);
    every_opener_refuses(&name, FileKind::Fifo);
}

#[test]
fn a_directory_at_the_name_is_refused_at_once() {
    let name = TempName::new("il-hostile").unwrap();
    let path = path_of(&name);
    std::fs::create_dir(&path).unwrap();
    let _guard = AtPath(path);
    every_opener_refuses(&name, FileKind::Directory);
}

#[test]
fn a_symlink_at_the_name_is_not_followed() {
    // A link to a valid channel: following it would open the channel.
    let target = TempName::new("il-hostile").unwrap();
    let _channel = SpscChannel::<u64>::create(&target, RingConfig::new(64), &quick()).unwrap();
    let name = TempName::new("il-hostile").unwrap();
    let path = path_of(&name);
    std::os::unix::fs::symlink(path_of(&target), &path).unwrap();
    let guard = AtPath(path.clone());
    every_opener_refuses(&name, FileKind::Symlink);
    drop(guard);
    // A dangling one too.
    std::os::unix::fs::symlink("/nonexistent/interlink", &path).unwrap();
    let _guard = AtPath(path);
    every_opener_refuses(&name, FileKind::Symlink);
}

#[test]
fn a_socket_at_the_name_is_refused_at_once() {
    let name = TempName::new("il-hostile").unwrap();
    let path = path_of(&name);
    let _listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let _guard = AtPath(path);
    every_opener_refuses(&name, FileKind::Socket);
}

/// A valid SPSC<u64> channel of capacity 64 left at `name`, and its bytes.
fn leave_channel(name: &str) -> Vec<u8> {
    let mut ch = SpscChannel::<u64>::create(name, RingConfig::new(64), &quick()).unwrap();
    ch.keep_name();
    drop(ch);
    std::fs::read(path_of(name)).unwrap()
}

#[test]
#[cfg_attr(miri, ignore)]
fn probing_and_opening_survive_a_peer_that_flips_the_size() {
    let name = TempName::new("il-hostile").unwrap();
    // The creator keeps its channel (and so its object in use) throughout:
    // the prober's create must find it live, never replace it.
    let mut creator = SpscChannel::<u64>::create(&name, RingConfig::new(64), &quick()).unwrap();
    creator.keep_name();
    let bytes = std::fs::read(path_of(&name)).unwrap();
    let run = Duration::from_millis(1500);
    // The hostile peer: size 0, size back, contents back, as fast as it can.
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(path_of(&name))
        .unwrap();
    let flipper = process::fork(|| {
        let start = Instant::now();
        while start.elapsed() < run {
            let _ = file.set_len(0);
            let _ = file.set_len(bytes.len() as u64);
            let _ = file.write_all_at(&bytes, 0);
        }
        0
    })
    .unwrap();
    // The prober: every call returns, with a value or an error.
    let n = name.as_str().to_owned();
    let prober = process::fork(move || {
        let start = Instant::now();
        let options = ChannelOptions::new().open_timeout(Duration::from_millis(2));
        while start.elapsed() < run {
            let _ = inspect::probe(&n);
            let _ = inspect::list();
            if let Ok(ch) = SpscChannel::<u64>::open(&n, &options) {
                assert_eq!(ch.capacity(), 64);
            }
            // create's stale check probes: the creator (this test) lives.
            let _ = SpscChannel::<u64>::create(&n, RingConfig::new(64), &options);
        }
        0
    })
    .unwrap();
    let probed = prober.wait().unwrap();
    let flipped = flipper.wait().unwrap();
    assert!(flipped.success(), "the flipper: {flipped:?}");
    assert_eq!(probed, Exit::Code(0), "the prober died (SIGBUS is 7)");
    // Dropping touches nothing mapped, so the creator survives the flips too.
    drop(creator);
}

#[test]
fn an_object_grown_by_a_peer_is_refused_before_it_is_mapped() {
    let name = TempName::new("il-hostile").unwrap();
    let bytes = leave_channel(&name);
    // Grown to 1 GiB, sparse: mapping and prefaulting it would allocate it.
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(path_of(&name))
        .unwrap();
    file.set_len(1 << 30).unwrap();
    let start = Instant::now();
    let e = SpscChannel::<u64>::open(&name, &quick()).unwrap_err();
    let took = start.elapsed();
    assert!(
        matches!(
            e,
            ChannelError::WrongSize { size, needed, .. }
                if size == 1 << 30 && needed == bytes.len() as u64
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("refused before mapping"), "{e}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    // Nothing was allocated: the object is still sparse.
    let allocated = std::os::unix::fs::MetadataExt::blocks(&file.metadata().unwrap()) * 512;
    assert!(allocated < 1 << 20, "{allocated} bytes allocated");
    // The inspector reads it without mapping it.
    let probed = inspect::probe(&name).unwrap();
    assert_eq!(probed.size, 1 << 30);
    let State::Valid(summary) = &probed.state else {
        panic!("{probed:?}");
    };
    assert_eq!(
        summary.problems,
        [format!(
            "records {} bytes, the object has {}",
            bytes.len(),
            1u64 << 30
        )]
    );
    // Back to its size, it opens.
    file.set_len(bytes.len() as u64).unwrap();
    SpscChannel::<u64>::open(&name, &quick()).unwrap();
}

#[test]
#[cfg_attr(miri, ignore)]
fn a_sealed_channel_works_between_processes_and_cannot_be_resized() {
    const N: u64 = 10_000;
    let options = ChannelOptions::new();
    let ch = SpscChannel::<u64>::create_sealed("il-sealed", RingConfig::new(64), &options).unwrap();
    assert!(ch.is_creator());
    assert_eq!(ch.name().as_str(), "/memfd:il-sealed");
    let fd = ch.sealed_fd().unwrap();
    let (here, there) = std::os::unix::net::UnixStream::pair().unwrap();
    let child = process::fork(move || {
        let mut buf = [0u8; 1];
        let Ok((_, mut fds)) = recv_with_fds(there.as_fd(), &mut buf, 1) else {
            return 2;
        };
        let Ok(theirs) = SpscChannel::<u64>::from_sealed_fd(fds.remove(0), &options) else {
            return 3;
        };
        if theirs.is_creator() || theirs.name().as_str() != "/memfd:il-sealed" {
            return 4;
        }
        // The hostile move: shrink it, or grow it. The kernel refuses.
        let raw = theirs.sealed_fd().unwrap().as_raw_fd();
        for len in [0, 64, 1 << 20] {
            // SAFETY: ftruncate on a descriptor this process owns.
            if unsafe { libc::ftruncate(raw, len) } != -1
                || std::io::Error::last_os_error().raw_os_error() != Some(libc::EPERM)
            {
                return 5;
            }
        }
        let Ok(mut rx) = theirs.receiver() else {
            return 6;
        };
        for i in 0..N {
            match rx.recv_timeout(Duration::from_secs(10)) {
                Ok(v) if v == i => {}
                _ => return 7,
            }
        }
        0
    })
    .unwrap();
    send_with_fds(here.as_fd(), b"c", &[fd]).unwrap();
    // The creator cannot resize it either.
    let raw = fd.as_raw_fd();
    // SAFETY: ftruncate on a descriptor this process owns.
    assert_eq!(unsafe { libc::ftruncate(raw, 0) }, -1);
    assert_eq!(
        std::io::Error::last_os_error().raw_os_error(),
        Some(libc::EPERM)
    );
    let mut tx = ch.sender().unwrap();
    for i in 0..N {
        tx.send_timeout(i, Duration::from_secs(10)).unwrap();
    }
    assert_eq!(child.wait().unwrap(), Exit::Code(0));
}

#[test]
fn a_sealed_mpmc_channel_opens_from_its_fd() {
    let ch =
        MpmcChannel::<u32>::create_sealed("il-sealed-mpmc", RingConfig::new(8), &quick()).unwrap();
    let fd = ch.sealed_fd().unwrap().try_clone_to_owned().unwrap();
    let theirs = MpmcChannel::<u32>::from_sealed_fd(fd, &quick()).unwrap();
    assert_eq!(theirs.capacity(), 8);
    assert!(theirs.sealed_fd().is_some());
    // Another element type or kind is refused after the seals pass.
    let fd = ch.sealed_fd().unwrap().try_clone_to_owned().unwrap();
    let e = MpmcChannel::<u64>::from_sealed_fd(fd, &quick()).unwrap_err();
    assert!(
        matches!(
            e,
            ChannelError::Attach {
                error: AttachError::Element { .. },
                ..
            }
        ),
        "{e:?}"
    );
    let fd = ch.sealed_fd().unwrap().try_clone_to_owned().unwrap();
    let e = SpscChannel::<u32>::from_sealed_fd(fd, &quick()).unwrap_err();
    assert!(
        matches!(
            e,
            ChannelError::Attach {
                error: AttachError::Kind {
                    expected: Kind::Spsc,
                    ..
                },
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn from_sealed_fd_refuses_unsealed_and_wrongly_sealed_descriptors() {
    let seals_problem = |fd: OwnedFd, needle: &str| {
        let e = SpscChannel::<u64>::from_sealed_fd(fd, &quick()).unwrap_err();
        assert!(matches!(e, ChannelError::Seals { .. }), "{e:?}");
        assert!(e.to_string().contains(needle), "{e}");
    };
    let len = 4096;
    // Unsealed.
    let memfd = Memfd::create("il-unsealed", len).unwrap();
    seals_problem(memfd.into_fd(), "not sealed against resizing");
    // Only half the size sealed.
    let memfd = Memfd::create("il-half", len).unwrap();
    memfd.add_seals(Seals::SHRINK).unwrap();
    seals_problem(memfd.into_fd(), "not sealed against resizing");
    // Sealed against resizing and against writable mappings.
    let memfd = Memfd::create("il-ro", len).unwrap();
    memfd.add_seals(Seals::SIZE | Seals::FUTURE_WRITE).unwrap();
    seals_problem(memfd.into_fd(), "write-sealed");
    // A named shm object cannot be sealed.
    let name = TempName::new("il-hostile").unwrap();
    let shm = Shm::create(&name, len).unwrap();
    seals_problem(shm.as_fd().try_clone_to_owned().unwrap(), "not sealed");
    // A pipe is not a memory file at all.
    let (r, _w) = interlink_linux::pipe::pipe(interlink_linux::pipe::IoMode::Blocking).unwrap();
    let e = SpscChannel::<u64>::from_sealed_fd(OwnedFd::from(r), &quick()).unwrap_err();
    assert!(
        matches!(
            e,
            ChannelError::Shm(ShmError::NotRegular {
                found: FileKind::Fifo,
                ..
            })
        ),
        "{e:?}"
    );
    // Sealed, but nothing published in it: an error, not a wait.
    let memfd = Memfd::create("il-zero", len).unwrap();
    memfd.add_seals(Seals::SIZE).unwrap();
    let e = SpscChannel::<u64>::from_sealed_fd(memfd.into_fd(), &quick()).unwrap_err();
    assert!(
        matches!(
            e,
            ChannelError::Attach {
                error: AttachError::NotReady { .. },
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn a_creator_whose_name_became_a_fifo_drops_promptly_and_spares_it() {
    let name = TempName::new("il-hostile").unwrap();
    let ch = SpscChannel::<u64>::create(&name, RingConfig::new(64), &quick()).unwrap();
    assert!(ch.unlinks_on_drop());
    // Someone replaces the name with a FIFO: the drop checks whether the
    // name still denotes its object, and must neither block nor unlink.
    let path = path_of(&name);
    std::fs::remove_file(&path).unwrap();
    let c_path = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a valid C string.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    let _guard = AtPath(path.clone());
    promptly("dropping the creator", move || drop(ch));
    let kind = std::fs::symlink_metadata(&path).unwrap().file_type();
    assert!(std::os::unix::fs::FileTypeExt::is_fifo(&kind));
}

/// What the sealed mode is for: a named channel's memory can be truncated
/// under its users, and the next access past the new end is a `SIGBUS`
/// (the documented limit of POSIX shm). Here a user that sends after a
/// peer truncated the object dies of it, while the same truncation on a
/// sealed channel is refused and the ring keeps working.
#[test]
#[cfg_attr(miri, ignore)]
fn truncation_faults_a_named_channel_but_not_a_sealed_one() {
    let name = TempName::new("il-hostile").unwrap();
    let n = name.as_str().to_owned();
    let named = process::fork(move || {
        let Ok(ch) = SpscChannel::<u64>::create(&n, RingConfig::new(64), &quick()) else {
            return 2;
        };
        let Ok(mut tx) = ch.sender() else { return 3 };
        let Ok(shm) = Shm::open(&n) else { return 4 };
        // SAFETY: ftruncate on a descriptor this process owns.
        if unsafe { libc::ftruncate(shm.as_fd().as_raw_fd(), 0) } != 0 {
            return 5;
        }
        let _ = tx.try_send(1); // faults
        0
    })
    .unwrap();
    assert_eq!(named.wait().unwrap(), Exit::Signal(libc::SIGBUS));
    let sealed = process::fork(|| {
        let Ok(ch) = SpscChannel::<u64>::create_sealed("il-t", RingConfig::new(64), &quick())
        else {
            return 2;
        };
        let (Ok(mut tx), Ok(mut rx)) = (ch.sender(), ch.receiver()) else {
            return 3;
        };
        let raw = ch.sealed_fd().unwrap().as_raw_fd();
        // SAFETY: ftruncate on a descriptor this process owns.
        if unsafe { libc::ftruncate(raw, 0) } != -1 {
            return 5;
        }
        match (tx.try_send(1), rx.try_recv()) {
            (Ok(()), Ok(1)) => 0,
            _ => 6,
        }
    })
    .unwrap();
    assert_eq!(sealed.wait().unwrap(), Exit::Code(0));
}

#[test]
fn a_created_object_grown_by_a_peer_before_it_is_mapped_is_refused() {
    let name = TempName::new("il-hostile").unwrap();
    let shm = Shm::create(&name, 4096).unwrap();
    // A peer grows it between the creator's sizing and its mapping.
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(path_of(&name))
        .unwrap();
    file.set_len(1 << 30).unwrap();
    let e = shm.map(&Default::default()).unwrap_err();
    assert!(
        matches!(e, ShmError::Size { len, .. } if len == 1 << 30),
        "{e:?}"
    );
    let e = shm.map_read_only().unwrap_err();
    assert!(matches!(e, ShmError::Size { .. }), "{e:?}");
    let allocated = std::os::unix::fs::MetadataExt::blocks(&file.metadata().unwrap()) * 512;
    assert!(allocated < 1 << 20, "{allocated} bytes allocated");
    // Opened by name (not sized by this handle), it maps what is there.
    file.set_len(8192).unwrap();
    assert_eq!(
        Shm::open(&name).unwrap().map_read_only().unwrap().len(),
        8192
    );
}
