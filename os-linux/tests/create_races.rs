//! Creating a named channel against the worst that can happen to a
//! creator: killed (`SIGKILL`) at any point of `create`, racing other
//! creators over one stale name, or finding an object without a header
//! at its name. Real processes, via `process::fork`; every wait is
//! bounded.

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use common::{unique_name, Rng, Words};
use interlink_core::RingConfig;
use interlink_linux::channel::{ChannelError, ChannelOptions, SpscChannel};
use interlink_linux::inspect::{self, State};
use interlink_linux::process::{self, Exit};
use interlink_linux::shm::{self, Shm, BUILDING_MARKER};

/// Names under /dev/shm that begin with `name` (the object and the
/// private names its creators build under).
fn leftovers(name: &str) -> Vec<String> {
    let mut found: Vec<String> = std::fs::read_dir(shm::SHM_DIR)
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(|f| format!("/{f}")))
        .filter(|n| n.starts_with(name))
        .collect();
    found.sort();
    found
}

/// Removes whatever a failed test left under `name`.
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for n in leftovers(&self.0) {
            let _ = shm::unlink(&n);
        }
    }
}

/// Polls `done` every millisecond for at most `limit`.
fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    done()
}

/// Hole 6: a creator killed while sizing, reserving, prefaulting or
/// initialising a big ring left an all-zero object at the name that `gc`
/// kept and that made every later `create` fail. Now it leaves either
/// nothing at the name, a whole channel (stale once the creator is dead),
/// or a private object that `gc` removes.
#[test]
#[cfg_attr(miri, ignore)]
fn a_creator_killed_anywhere_in_create_leaves_nothing_gc_and_create_cannot_handle() {
    let name = unique_name("create-kill");
    let _cleanup = Cleanup(name.clone());
    let only_ours = |n: &str| n.starts_with(name.as_str());
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ u64::from(std::process::id()));
    let (mut before_publish, mut private_left) = (0, 0);
    for attempt in 0..12 {
        // 64 or 128 MiB of u64s, reserved and prefaulted: tens to
        // hundreds of milliseconds of work to be killed in.
        let capacity = 1u32 << (23 + attempt % 2);
        let child = process::fork(|| {
            let made = SpscChannel::<u64>::create(
                &name,
                RingConfig::new(capacity),
                &ChannelOptions::new(),
            );
            if made.is_err() {
                return 3;
            }
            loop {
                std::thread::sleep(Duration::from_millis(10));
            }
        })
        .unwrap();
        let delay = Duration::from_micros(rng.next() % 250_000);
        std::thread::sleep(delay);
        child.signal(libc::SIGKILL).unwrap();
        let exit = child.wait().unwrap();
        assert!(
            exit == Exit::Signal(libc::SIGKILL),
            "attempt {attempt}: the creator failed on its own: {exit:?}"
        );
        let left = leftovers(&name);
        if !left.contains(&name) {
            before_publish += 1;
        }
        for n in &left {
            if n.contains(BUILDING_MARKER) {
                private_left += 1;
                let object = inspect::probe(n).unwrap();
                assert!(
                    matches!(object.state, State::Unfinished { claimed: false, .. }),
                    "{n}: {:?}",
                    object.state
                );
                assert!(object.is_stale(), "{n}: {object:?}");
            } else {
                // At the name there is only ever a whole channel.
                let object = inspect::probe(n).unwrap();
                assert!(
                    matches!(object.state, State::Valid(_)),
                    "attempt {attempt} after {delay:?}: {n}: {}",
                    object.state
                );
            }
        }
        // gc removes all of it ...
        let collected = inspect::gc(only_ours).unwrap();
        for (object, removed) in &collected {
            assert!(removed.is_ok(), "{}: {removed:?}", object.name);
        }
        assert_eq!(collected.len(), left.len(), "{left:?} -> {collected:?}");
        assert!(leftovers(&name).is_empty(), "{:?}", leftovers(&name));
        // ... and the name can be created again.
        let again = SpscChannel::<u64>::create(&name, RingConfig::new(64), &ChannelOptions::new());
        assert!(again.is_ok(), "attempt {attempt}: {again:?}");
        drop(again);
        assert!(leftovers(&name).is_empty(), "{:?}", leftovers(&name));
    }
    println!(
        "killed before publishing: {before_publish} of 12; private objects left: {private_left}"
    );
}

/// Without `gc`: a killed creator's leftovers do not stop the next
/// `create` of the name, which also clears the private object left.
#[test]
#[cfg_attr(miri, ignore)]
fn create_after_a_killed_creator_succeeds_and_clears_its_private_object() {
    let name = unique_name("create-kill-nogc");
    let _cleanup = Cleanup(name.clone());
    let mut rng = Rng(0x2545_f491_4f6c_dd1d ^ u64::from(std::process::id()));
    for attempt in 0..6 {
        let child = process::fork(|| {
            let _made =
                SpscChannel::<u64>::create(&name, RingConfig::new(1 << 23), &ChannelOptions::new());
            loop {
                std::thread::sleep(Duration::from_millis(10));
            }
        })
        .unwrap();
        std::thread::sleep(Duration::from_micros(rng.next() % 150_000));
        child.signal(libc::SIGKILL).unwrap();
        child.wait().unwrap();
        let fresh = SpscChannel::<u64>::create(&name, RingConfig::new(64), &ChannelOptions::new());
        let fresh = fresh.unwrap_or_else(|e| panic!("attempt {attempt}: {e}"));
        assert_eq!(leftovers(&name), vec![name.clone()]);
        drop(fresh);
        assert!(leftovers(&name).is_empty(), "{:?}", leftovers(&name));
    }
}

/// Outcomes the racing creators record in shared words.
const OWNER: u32 = 1;
const EXISTS: u32 = 2;
const OTHER_ERROR: u32 = 3;
const NO_START: u32 = 4;

/// Hole 7: several creators over one stale name all replaced it ("both
/// succeed": `replace_if_stale` unlinked by name whatever the name then
/// denoted). Now exactly one owns the name each round, the others get
/// `ChannelError::Exists`, and a `gc` sweeping meanwhile never removes
/// the owner's object.
#[test]
#[cfg_attr(miri, ignore)]
fn six_creators_over_one_stale_name_make_exactly_one_owner() {
    const CREATORS: usize = 6;
    const ROUNDS: u32 = 20;
    let name = unique_name("create-race");
    let _cleanup = Cleanup(name.clone());
    // Words: 0 start (round number), 1 done (round number), then per
    // creator its outcome and its pid, then when gc stops (round number).
    let words = Words::new(3 + 2 * CREATORS);
    let stop_sweeping = 2 + 2 * CREATORS;
    let outcome = |i: usize| words.get(2 + 2 * i);
    let pid_of = |i: usize| words.get(3 + 2 * i);

    // The first stale object: its creator kept the name and exited.
    let first = process::fork(|| {
        match SpscChannel::<u64>::create(&name, RingConfig::new(64), &ChannelOptions::new()) {
            Ok(mut ch) => {
                ch.keep_name();
                0
            }
            Err(_) => 1,
        }
    })
    .unwrap();
    assert!(first.wait().unwrap().success());

    let mut failures = Vec::new();
    for round in 1..=ROUNDS {
        let object = inspect::probe(&name).unwrap();
        assert!(object.is_stale(), "round {round}: {object:?}");
        for i in 0..CREATORS {
            outcome(i).store(0, Ordering::SeqCst);
            pid_of(i).store(0, Ordering::SeqCst);
        }
        let children: Vec<_> = (0..CREATORS)
            .map(|i| {
                let (words, name) = (&words, name.as_str());
                process::fork(move || {
                    let (start, done) = (words.get(0), words.get(1));
                    let result = if wait_until(Duration::from_secs(20), || {
                        start.load(Ordering::SeqCst) >= round
                    }) {
                        SpscChannel::<u64>::create(
                            name,
                            RingConfig::new(64),
                            &ChannelOptions::new(),
                        )
                    } else {
                        words.get(2 + 2 * i).store(NO_START, Ordering::SeqCst);
                        return 1;
                    };
                    words
                        .get(3 + 2 * i)
                        .store(process::current_pid(), Ordering::SeqCst);
                    let code = match &result {
                        Ok(_) => OWNER,
                        Err(ChannelError::Exists { .. }) => EXISTS,
                        Err(_) => OTHER_ERROR,
                    };
                    words.get(2 + 2 * i).store(code, Ordering::SeqCst);
                    // Hold the name until every creator has tried; the
                    // owner then leaves it for the next round, stale.
                    wait_until(Duration::from_secs(20), || {
                        done.load(Ordering::SeqCst) >= round
                    });
                    if let Ok(mut ch) = result {
                        ch.keep_name();
                    }
                    0
                })
                .unwrap()
            })
            .collect();
        // A gc sweeping the name all the while: it may remove the stale
        // object first, never a creator's new one.
        let sweeper = {
            let (words, name) = (&words, name.as_str());
            process::fork(move || {
                let start = words.get(0);
                wait_until(Duration::from_secs(20), || {
                    start.load(Ordering::SeqCst) >= round
                });
                let stop = words.get(stop_sweeping);
                while stop.load(Ordering::SeqCst) < round {
                    if inspect::gc(|n| n.starts_with(name)).is_err() {
                        return 1;
                    }
                }
                0
            })
            .unwrap()
        };
        words.get(0).store(round, Ordering::SeqCst);
        let all_tried = wait_until(Duration::from_secs(30), || {
            (0..CREATORS).all(|i| outcome(i).load(Ordering::SeqCst) != 0)
        });
        let outcomes: Vec<u32> = (0..CREATORS)
            .map(|i| outcome(i).load(Ordering::SeqCst))
            .collect();
        let owners: Vec<usize> = (0..CREATORS).filter(|&i| outcomes[i] == OWNER).collect();
        words.get(stop_sweeping).store(round, Ordering::SeqCst);
        let swept = sweeper.wait().unwrap();
        // The object at the name is the owner's.
        let at_name = inspect::probe(&name).map(|o| o.state);
        words.get(1).store(round, Ordering::SeqCst);
        for child in children {
            assert!(child.wait().unwrap().success(), "round {round}");
        }
        assert!(swept.success(), "round {round}: gc failed");
        assert!(all_tried, "round {round}: {outcomes:?}");
        if owners.len() != 1 || outcomes.iter().any(|&o| o != OWNER && o != EXISTS) {
            failures.push(format!("round {round}: {outcomes:?}"));
            // Start the next round from a stale object again.
            if leftovers(&name).is_empty() || owners.len() != 1 {
                for n in leftovers(&name) {
                    let _ = shm::unlink(&n);
                }
                let again =
                    SpscChannel::<u64>::create(&name, RingConfig::new(64), &ChannelOptions::new())
                        .map(|mut ch| ch.keep_name());
                assert!(again.is_ok(), "{again:?}");
                // Our own pid is alive: rewrite the creator to a dead one.
                rewrite_creator_dead(&name);
            }
            continue;
        }
        let owner_pid = pid_of(owners[0]).load(Ordering::SeqCst);
        match at_name {
            Ok(State::Valid(s)) => assert_eq!(s.creator.pid, owner_pid, "round {round}"),
            other => panic!("round {round}: at the name: {other:?}"),
        }
        assert_eq!(leftovers(&name), vec![name.clone()], "round {round}");
    }
    assert!(
        failures.is_empty(),
        "{} of {ROUNDS} rounds: {failures:#?}",
        failures.len()
    );
}

/// Records a dead process as the creator of the channel at `name`.
fn rewrite_creator_dead(name: &str) {
    let dead = process::fork(|| 0).unwrap();
    let pid = dead.pid();
    dead.wait().unwrap();
    let opts = ChannelOptions::new().unlink_on_drop(false);
    let ch = SpscChannel::<u64>::open(name, &opts).unwrap();
    // SAFETY: offset 36 (creator_pid) is inside the header of a live
    // mapping.
    unsafe {
        (*ch.mapping()
            .as_ptr()
            .add(36)
            .cast::<std::sync::atomic::AtomicU32>())
        .store(pid, Ordering::Relaxed)
    };
}

/// Sets the object's modification time `ago` into the past.
fn age(shm: &Shm, ago: Duration) {
    let file = std::fs::File::options()
        .write(true)
        .open(shm.name().path())
        .unwrap();
    file.set_modified(SystemTime::now() - ago).unwrap();
}

/// An object without a header at the name (empty or all zero: what an
/// older creator killed while sizing left, or anyone's): `create` refuses
/// it while it may be a creator at work, replaces it once unmodified for
/// `INCOMPLETE_GRACE`; `gc` never takes it (it is not recognisably
/// interlink's). An old object with foreign bytes is never replaced.
#[test]
#[cfg_attr(miri, ignore)]
fn an_object_without_a_header_at_the_name_is_replaced_once_old() {
    let name = unique_name("create-blank");
    let _cleanup = Cleanup(name.clone());
    let only_ours = |n: &str| n == name.as_str();
    let create = || SpscChannel::<u64>::create(&name, RingConfig::new(64), &ChannelOptions::new());
    let old = inspect::INCOMPLETE_GRACE + Duration::from_secs(5);

    for size in [0usize, 100, 1 << 20] {
        let blank = if size == 0 {
            std::fs::File::create_new(shm::ShmName::new(&name).unwrap().path()).unwrap();
            Shm::open(&name).unwrap()
        } else {
            Shm::create(&name, size).unwrap()
        };
        // Young: may be a creator of an older version at work.
        match create() {
            Err(ChannelError::Exists { why, .. }) => {
                assert!(why.contains("unmodified"), "{why}")
            }
            other => panic!("size {size}: {other:?}"),
        }
        age(&blank, old);
        assert!(inspect::gc(only_ours).unwrap().is_empty(), "size {size}");
        let fresh = create().unwrap_or_else(|e| panic!("size {size}: {e}"));
        assert!(fresh.is_creator());
        drop(fresh);
        assert!(leftovers(&name).is_empty(), "{:?}", leftovers(&name));
    }

    // Foreign bytes stay, however old.
    let foreign = Shm::create(&name, 4096).unwrap();
    let map = foreign.map(&shm::MapOptions::new()).unwrap();
    // SAFETY: byte 20 of a 4096-byte mapping.
    unsafe { map.as_ptr().add(20).write_volatile(7) };
    age(&foreign, old);
    assert!(matches!(create(), Err(ChannelError::Exists { .. })));
    assert!(inspect::gc(only_ours).unwrap().is_empty());
    assert_eq!(leftovers(&name), vec![name.clone()]);
}

/// Names that look like a private name under construction are refused:
/// gc would take them for one.
#[test]
#[cfg_attr(miri, ignore)]
fn a_name_with_the_building_marker_is_refused() {
    let name = format!("{}{BUILDING_MARKER}1.2", unique_name("create-marker"));
    let made = SpscChannel::<u64>::create(&name, RingConfig::new(64), &ChannelOptions::new());
    assert!(
        matches!(made, Err(ChannelError::Shm(shm::ShmError::Name { .. }))),
        "{made:?}"
    );
}

/// The longest names (and names of multi-byte characters) are built under
/// a private name cut to fit, published whole, and leave nothing behind.
#[test]
#[cfg_attr(miri, ignore)]
fn the_longest_names_are_created_and_leave_nothing() {
    let base = unique_name("create-long");
    for fill in ["x", "é"] {
        let mut name = base.clone();
        while name.len() + fill.len() <= 1 + shm::NAME_MAX {
            name.push_str(fill);
        }
        let _cleanup = Cleanup(base.clone());
        let ch = SpscChannel::<u64>::create(&name, RingConfig::new(64), &ChannelOptions::new())
            .unwrap_or_else(|e| panic!("{} bytes: {e}", name.len()));
        assert_eq!(leftovers(&base), vec![name.clone()]);
        drop(ch);
        assert!(leftovers(&base).is_empty(), "{:?}", leftovers(&base));
    }
}

/// A FIFO (or a directory) at the name: `create` refuses at once instead
/// of blocking in an open, and leaves it alone. Run in a child so that a
/// hang fails the test instead of stopping it.
#[test]
#[cfg_attr(miri, ignore)]
fn a_fifo_or_a_directory_at_the_name_is_refused_at_once() {
    let name = unique_name("create-fifo");
    let _cleanup = Cleanup(name.clone());
    let path = shm::ShmName::new(&name).unwrap().path();
    for make_fifo in [true, false] {
        if make_fifo {
            let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
            // SAFETY: a valid C string.
            assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        } else {
            std::fs::create_dir(&path).unwrap();
        }
        let mut child = process::fork(|| {
            match SpscChannel::<u64>::create(&name, RingConfig::new(64), &ChannelOptions::new()) {
                Err(ChannelError::Shm(shm::ShmError::NotRegular { .. })) => 0,
                _ => 1,
            }
        })
        .unwrap();
        let mut exit = None;
        wait_until(Duration::from_secs(20), || {
            exit = child.try_wait().unwrap();
            exit.is_some()
        });
        assert_eq!(exit, Some(Exit::Code(0)), "fifo {make_fifo}");
        assert!(path.exists(), "left alone");
        if make_fifo {
            std::fs::remove_file(&path).unwrap();
        } else {
            std::fs::remove_dir(&path).unwrap();
        }
        assert!(leftovers(&name).is_empty(), "{:?}", leftovers(&name));
    }
}
