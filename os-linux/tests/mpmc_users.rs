//! Named MPMC channels record who uses them: forked processes create, open,
//! exit and get SIGKILLed, and the inspector (`probe`, `gc`) must keep an
//! object that a live process still uses, remove one whose users are all
//! dead, and a dead user's word must go to the next joiner.

mod common;

use std::time::Duration;

use common::Gate;

use interlink_core::mpmc::UserSlot;
use interlink_core::RingConfig;
use interlink_linux::channel::{ChannelError, ChannelOptions, MpmcChannel, SpscChannel};
use interlink_linux::inspect::{self, Object, State};
use interlink_linux::process::{self, fork, Child, Exit};
use interlink_linux::shm::TempName;

fn options() -> ChannelOptions {
    ChannelOptions::new().open_timeout(Duration::from_secs(20))
}

/// The creator's pid and the recorded users, `(pid, alive)` in table order.
fn users(object: &Object) -> (u32, Vec<(u32, bool)>) {
    let State::Valid(s) = &object.state else {
        panic!("{:?}", object.state)
    };
    assert!(s.roles.iter().all(|r| r.role == "user"), "{:?}", s.roles);
    let users = s.roles.iter().map(|r| (r.holder.pid, r.holder.alive));
    (s.creator.pid, users.collect())
}

/// Forks a process that creates (or opens) the channel `name` and then
/// sleeps until it is killed; returns once the channel is there.
fn holder(name: &str, create: bool) -> Child {
    let mut ready = Gate::new();
    let child = fork(|| {
        let channel = if create {
            MpmcChannel::<u64>::create(name, RingConfig::new(8), &options())
        } else {
            MpmcChannel::<u64>::open(name, &options())
        };
        let Ok(_channel) = channel else { return 2 };
        ready.open();
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    })
    .unwrap();
    assert!(ready.wait(), "the holder failed");
    child
}

/// Runs `gc` on `name` alone and checks that it removed the object.
fn gc_removes(name: &str) {
    let collected = inspect::gc(|n| n == name).unwrap();
    assert_eq!(collected.len(), 1);
    assert!(collected[0].1.is_ok());
    assert!(inspect::probe(name).unwrap_err().is(libc::ENOENT));
}

/// SIGKILLs `child` and reaps it (a zombie would still count as alive).
fn kill(child: Child) {
    child.signal(libc::SIGKILL).unwrap();
    assert_eq!(child.wait().unwrap(), Exit::Signal(libc::SIGKILL));
}

#[test]
#[cfg_attr(miri, ignore)] // fork and shm_open
fn the_creator_dying_while_another_process_uses_the_channel_leaves_it_live() {
    let name = TempName::new("il-users").unwrap();
    let c = holder(&name, true);
    // The user sends and receives once the parent says so, then exits
    // normally (its channel leaves the table on drop).
    let mut opened = Gate::new();
    let mut go = Gate::new();
    let u = fork(|| {
        let Ok(ch) = MpmcChannel::<u64>::open(&name, &options()) else {
            return 2;
        };
        opened.open();
        if !go.wait() {
            return 3;
        }
        let Ok(h) = ch.handle() else { return 4 };
        match (h.try_send(7), h.try_recv()) {
            (Ok(()), Ok(7)) => 0,
            _ => 5,
        }
    })
    .unwrap();
    assert!(opened.wait());
    let (c_pid, u_pid) = (c.pid(), u.pid());
    let object = inspect::probe(&name).unwrap();
    assert_eq!(users(&object), (c_pid, vec![(c_pid, true), (u_pid, true)]));

    // The creator dies without running its Drop (the name stays).
    kill(c);
    let object = inspect::probe(&name).unwrap();
    assert_eq!(users(&object), (c_pid, vec![(c_pid, false), (u_pid, true)]));
    assert!(!object.is_stale(), "a live user keeps it: {}", object.state);
    assert!(inspect::gc(|n| n == name.as_str()).unwrap().is_empty());
    let again = MpmcChannel::<u64>::create(&name, RingConfig::new(8), &ChannelOptions::new());
    assert!(
        matches!(again, Err(ChannelError::Exists { .. })),
        "{again:?}"
    );

    // The user still works through the channel, and leaves on exit.
    go.open();
    assert_eq!(u.wait().unwrap(), Exit::Code(0));
    let object = inspect::probe(&name).unwrap();
    assert_eq!(users(&object), (c_pid, vec![(c_pid, false)]));
    assert!(object.is_stale());
    gc_removes(&name);
}

#[test]
#[cfg_attr(miri, ignore)] // fork and shm_open
fn every_user_killed_leaves_a_stale_object_that_gc_removes() {
    let name = TempName::new("il-users").unwrap();
    let c = holder(&name, true);
    let users_ = [holder(&name, false), holder(&name, false)];
    let c_pid = c.pid();
    let pids = [c_pid, users_[0].pid(), users_[1].pid()];
    let object = inspect::probe(&name).unwrap();
    let (_, mut recorded) = users(&object);
    recorded.sort_unstable();
    let mut expected: Vec<_> = pids.iter().map(|&p| (p, true)).collect();
    expected.sort_unstable();
    assert_eq!(recorded, expected);
    assert!(!object.is_stale());

    // One user dead, two alive: still in use.
    let [u1, u2] = users_;
    kill(u1);
    assert!(!inspect::probe(&name).unwrap().is_stale());
    kill(c);
    assert!(!inspect::probe(&name).unwrap().is_stale());
    kill(u2);
    let object = inspect::probe(&name).unwrap();
    let (creator, recorded) = users(&object);
    assert_eq!(creator, c_pid);
    assert_eq!(recorded.len(), 3);
    assert!(recorded.iter().all(|&(_, alive)| !alive), "{recorded:?}");
    assert!(object.is_stale());
    gc_removes(&name);
}

#[test]
#[cfg_attr(miri, ignore)] // fork and shm_open
fn a_user_that_died_without_leaving_has_its_word_taken_over() {
    let name = TempName::new("il-users").unwrap();
    let c = holder(&name, true);
    let u = holder(&name, false);
    let (c_pid, u_pid) = (c.pid(), u.pid());
    let object = inspect::probe(&name).unwrap();
    assert_eq!(users(&object).1, [(c_pid, true), (u_pid, true)]);
    kill(u);
    assert_eq!(
        users(&inspect::probe(&name).unwrap()).1,
        [(c_pid, true), (u_pid, false)]
    );

    // The next joiner (this process) takes the dead user's word.
    let ch = MpmcChannel::<u64>::open(&name, &options()).unwrap();
    assert_eq!(ch.user_slot(), Some(UserSlot::Word(1)));
    let me = process::current_pid();
    assert_eq!(
        users(&inspect::probe(&name).unwrap()).1,
        [(c_pid, true), (me, true)]
    );
    // Dropping the channel leaves the table; the creator is still there.
    drop(ch);
    assert_eq!(users(&inspect::probe(&name).unwrap()).1, [(c_pid, true)]);
    kill(c);
    assert!(inspect::probe(&name).unwrap().is_stale());
    gc_removes(&name);
}

#[test]
#[cfg_attr(miri, ignore)] // shm_open
fn channels_with_roles_record_no_users() {
    let name = TempName::new("il-users").unwrap();
    let ch = SpscChannel::<u64>::create(&name, RingConfig::new(8), &options()).unwrap();
    assert_eq!(ch.user_slot(), None);
    let object = inspect::probe(&name).unwrap();
    let State::Valid(s) = &object.state else {
        panic!("{:?}", object.state)
    };
    assert!(!s.unrecorded_users);
    assert_eq!(
        s.roles.iter().map(|r| r.role).collect::<Vec<_>>(),
        ["producer", "consumer"]
    );
}
