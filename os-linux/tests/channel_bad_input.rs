//! Bad names, sizes and objects: each a clear, typed error (and a verdict
//! from the inspector), never a crash. Every object is under a `TempName`.

use std::io::Write;
use std::time::Duration;

use interlink_core::layout::{Fingerprint, Kind, LAYOUT_VERSION};
use interlink_core::{AttachError, ElementCheck, InitError, RegionError, RingConfig};
use interlink_linux::channel::{ChannelError, ChannelOptions, SpscChannel};
use interlink_linux::inspect::{self, State};
use interlink_linux::shm::{ShmError, ShmName, TempName};

fn quick() -> ChannelOptions {
    ChannelOptions::new().open_timeout(Duration::from_millis(100))
}

/// A valid SPSC<u64> channel object left under `name`.
fn leave_channel(name: &str) {
    let mut ch = SpscChannel::<u64>::create(name, RingConfig::new(64), &quick()).unwrap();
    ch.keep_name();
}

/// Overwrites the header word at `offset` of the object `name`.
fn poke(name: &str, offset: u64, value: u32) {
    use std::os::unix::fs::FileExt;
    let path = ShmName::new(name).unwrap().path();
    let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.write_all_at(&value.to_le_bytes(), offset).unwrap();
}

fn write_file(name: &str, bytes: &[u8]) {
    let path = ShmName::new(name).unwrap().path();
    let mut file = std::fs::File::create(path).unwrap();
    file.write_all(bytes).unwrap();
}

#[test]
fn a_name_with_a_slash_is_refused() {
    for bad in ["/a/b", "no-slash", "/"] {
        let e = SpscChannel::<u64>::create(bad, RingConfig::new(64), &quick()).unwrap_err();
        assert!(matches!(e, ChannelError::Shm(ShmError::Name { .. })), "{e}");
        let e = SpscChannel::<u64>::open(bad, &quick()).unwrap_err();
        assert!(matches!(e, ChannelError::Shm(ShmError::Name { .. })), "{e}");
        assert!(e.to_string().contains("invalid shm name"), "{e}");
    }
}

#[test]
fn a_too_large_size_is_refused_and_leaves_nothing() {
    let name = TempName::new("il-bad").unwrap();
    // Not a ring capacity at all.
    let e = SpscChannel::<u64>::create(&name, RingConfig::new(3), &quick()).unwrap_err();
    assert!(
        matches!(e, ChannelError::Init(InitError::Capacity { capacity: 3 })),
        "{e}"
    );
    let e = SpscChannel::<u64>::create(&name, RingConfig::new(1 << 31 | 1), &quick()).unwrap_err();
    assert!(matches!(e, ChannelError::Init(_)), "{e}");
    // A valid capacity whose ring (1 TiB) is larger than /dev/shm, or (in
    // a 32-bit process) than an address space.
    let e =
        SpscChannel::<[u64; 64]>::create(&name, RingConfig::new(1 << 31), &quick()).unwrap_err();
    if cfg!(target_pointer_width = "64") {
        assert!(
            matches!(e, ChannelError::Shm(ShmError::NoSpace { .. })),
            "{e}"
        );
        assert!(e.to_string().contains("free"), "{e}");
    } else {
        assert!(matches!(e, ChannelError::Init(_)), "{e}");
        assert!(e.to_string().contains("overflows"), "{e}");
    }
    assert!(inspect::probe(&name).unwrap_err().is(libc::ENOENT));
}

#[test]
fn an_object_of_another_kind_element_or_version_is_refused() {
    let name = TempName::new("il-bad").unwrap();
    leave_channel(&name);
    // Another element type.
    let e = SpscChannel::<u32>::open(&name, &quick()).unwrap_err();
    assert!(
        matches!(
            e,
            ChannelError::Attach {
                error: AttachError::Element { .. },
                ..
            }
        ),
        "{e}"
    );
    // Same size and alignment, another type: a u64 channel opened as f64
    // is refused (42 would arrive as 2.08e-322), unless opted out.
    let e = SpscChannel::<f64>::open(&name, &quick()).unwrap_err();
    assert!(
        matches!(
            e,
            ChannelError::Attach {
                error: AttachError::Element { expected, found },
                ..
            } if expected == Fingerprint::of::<f64>() && found == Fingerprint::of::<u64>()
        ),
        "{e}"
    );
    let layout_only = quick().element_check(ElementCheck::LayoutOnly);
    let as_f64 = SpscChannel::<f64>::open(&name, &layout_only).unwrap();
    assert_eq!(as_f64.capacity(), 64);
    drop(as_f64);
    // Another kind.
    poke(&name, 8, Kind::Mpmc as u32);
    let e = SpscChannel::<u64>::open(&name, &quick()).unwrap_err();
    assert!(
        matches!(
            e,
            ChannelError::Attach {
                error: AttachError::Kind { found: 2, .. },
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("found a mpmc"), "{e}");
    // Creating over it: not stale (no dead creator recorded... ours lives).
    let e = SpscChannel::<u64>::create(&name, RingConfig::new(64), &quick()).unwrap_err();
    assert!(matches!(e, ChannelError::Exists { .. }), "{e}");
    // Another layout version.
    poke(&name, 8, Kind::Spsc as u32);
    poke(&name, 4, LAYOUT_VERSION + 1);
    let e = SpscChannel::<u64>::open(&name, &quick()).unwrap_err();
    assert!(
        matches!(
            e,
            ChannelError::Attach {
                error: AttachError::Version { .. },
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(
        inspect::probe(&name).unwrap().state,
        State::OtherVersion {
            version: LAYOUT_VERSION + 1
        }
    );
    // A corrupt capacity.
    poke(&name, 4, LAYOUT_VERSION);
    poke(&name, 32, 100);
    let e = SpscChannel::<u64>::open(&name, &quick()).unwrap_err();
    assert!(
        matches!(
            e,
            ChannelError::Attach {
                error: AttachError::Corrupt {
                    field: "capacity",
                    ..
                },
                ..
            }
        ),
        "{e}"
    );
    assert!(matches!(
        inspect::probe(&name).unwrap().state,
        State::Corrupt { .. }
    ));
}

#[test]
fn a_truncated_object_is_refused() {
    let name = TempName::new("il-bad").unwrap();
    leave_channel(&name);
    let path = ShmName::new(&name).unwrap().path();
    // Shorter than the ring, longer than a header.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(200)
        .unwrap();
    let e = SpscChannel::<u64>::open(&name, &quick()).unwrap_err();
    assert!(
        matches!(
            e,
            ChannelError::Attach {
                error: AttachError::Region(RegionError::TooSmall { .. }),
                ..
            }
        ),
        "{e}"
    );
    assert!(matches!(
        inspect::probe(&name).unwrap().state,
        State::Corrupt { .. }
    ));
    // Shorter than a header.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(40)
        .unwrap();
    let e = SpscChannel::<u64>::open(&name, &quick()).unwrap_err();
    assert!(matches!(e, ChannelError::Truncated { size: 40, .. }), "{e}");
    assert!(e.to_string().contains("shorter than a header"), "{e}");
    let probed = inspect::probe(&name).unwrap();
    assert!(
        matches!(probed.state, State::Corrupt { header: None, .. }),
        "{probed:?}"
    );
    // Empty: a creator between shm_open and ftruncate, as far as anyone
    // can tell, so the opener waits and then says so.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(0)
        .unwrap();
    let e = SpscChannel::<u64>::open(&name, &quick()).unwrap_err();
    assert!(
        matches!(
            e,
            ChannelError::Timeout {
                pending: interlink_linux::channel::Pending::Empty,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn a_file_of_random_bytes_is_refused_and_left_alone() {
    let name = TempName::new("il-bad").unwrap();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let bytes: Vec<u8> = (0..8192)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    write_file(&name, &bytes);
    let e = SpscChannel::<u64>::open(&name, &quick()).unwrap_err();
    assert!(
        matches!(
            e,
            ChannelError::Attach {
                error: AttachError::BadMagic { .. },
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("not an interlink structure"), "{e}");
    let probed = inspect::probe(&name).unwrap();
    assert!(!probed.is_interlink() && !probed.is_stale(), "{probed:?}");
    // create does not replace a foreign object.
    let e = SpscChannel::<u64>::create(&name, RingConfig::new(64), &quick()).unwrap_err();
    assert!(matches!(e, ChannelError::Exists { .. }), "{e}");
    assert!(e.to_string().contains("not an interlink object"), "{e}");
    // Random bytes that start with the magic: corrupt, not trusted.
    let mut magic = bytes.clone();
    magic[..4].copy_from_slice(b"ILNK");
    write_file(&name, &magic);
    assert!(SpscChannel::<u64>::open(&name, &quick()).is_err());
    assert!(!inspect::probe(&name).unwrap().is_stale());
}
