//! A killed process that is not yet reaped (a zombie) is dead on every
//! path (issue 13, hole 3): a parent blocked on its own killed child gets
//! `PeerDied` (it cannot reap while blocked), a zombie's roles and users
//! word are taken over, an object whose creator is a zombie is stale, and
//! a zombie mutex owner is found dead. Every child here is killed and left
//! unreaped (`waitid(WNOWAIT)` says it has exited) while the check runs.

mod common;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::Gate;

use interlink_core::mpmc::UserSlot;
use interlink_core::mutex::{LockError, Mutex};
use interlink_core::{Holder, RecvError, RingConfig, SendError};
use interlink_linux::channel::{ByteChannel, ChannelOptions, MpmcChannel, SpscChannel};
use interlink_linux::futex::{Futex, Robust};
use interlink_linux::inspect::{self, State};
use interlink_linux::liveness;
use interlink_linux::process::{self, fork, Child, Exit};
use interlink_linux::shm::{Mapping, TempName};
use interlink_linux::signal;

/// How long the killer thread leaves its victim a zombie if the parent
/// stays blocked: long enough that a parent that noticed the death by
/// itself cannot be confused with one the reaping unblocked.
const REAP_AFTER: Duration = Duration::from_secs(20);

fn options() -> ChannelOptions {
    ChannelOptions::new().open_timeout(Duration::from_secs(20))
}

/// Forks a child that runs `claim` (taking a role, joining a table,
/// creating an object, locking) and keeps what it returns until it is
/// killed; returns once `claim` has succeeded.
fn holder<H>(claim: impl FnOnce() -> Option<H>) -> Child {
    let mut ready = Gate::new();
    let child = fork(|| {
        let Some(_held) = claim() else { return 2 };
        ready.open();
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    })
    .unwrap();
    assert!(ready.wait(), "the holder failed to claim");
    child
}

/// Whether our child `pid` has exited, waiting for it if `block`, without
/// reaping it (`WNOWAIT`: it stays a zombie).
fn exited(pid: u32, block: bool) -> bool {
    loop {
        // SAFETY: a zeroed siginfo_t is a valid out-buffer for waitid.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let flags = libc::WEXITED | libc::WNOWAIT | if block { 0 } else { libc::WNOHANG };
        // SAFETY: waits for our own child; `info` is a valid out-pointer.
        let r = unsafe { libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, flags) };
        if r == 0 {
            // SAFETY: waitid filled `info` (si_pid is 0 under WNOHANG when
            // the child has not exited).
            return unsafe { info.si_pid() } != 0;
        }
        assert_eq!(
            std::io::Error::last_os_error().raw_os_error(),
            Some(libc::EINTR),
            "waitid"
        );
    }
}

/// SIGKILLs `child` and returns once it is a zombie: exited, not reaped
/// (so `kill(pid, 0)` still finds it).
fn make_zombie(child: &Child) {
    child.signal(libc::SIGKILL).unwrap();
    assert!(exited(child.pid(), true));
    assert!(signal::kill(child.pid(), 0).is_ok(), "not reaped");
    assert!(!liveness::process_alive(child.pid()));
}

/// Runs `block` (a call that blocks on `child`), killing `child` from
/// another thread after a while and reaping it only once `block` has
/// returned; returns what `block` returned. Fails if `block` returned only
/// because the zombie was reaped at last (after [`REAP_AFTER`]).
fn while_blocked<R>(child: Child, block: impl FnOnce() -> R) -> R {
    let pid = child.pid();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let killer = std::thread::spawn(move || {
        // The caller is blocked by now (if the machine is so busy that it
        // is not, it blocks on a zombie just after: the same case).
        std::thread::sleep(Duration::from_millis(200));
        child.signal(libc::SIGKILL).unwrap();
        let killed = Instant::now();
        // A parent that stays blocked on the zombie gets it reaped after
        // REAP_AFTER, so that the test fails instead of hanging.
        let stayed_blocked = done_rx.recv_timeout(REAP_AFTER).is_err();
        // Only this thread reaps: the child is (or is about to be) a
        // zombie. (The parent may see it dead a little before: once its
        // files and memory are gone on the way out.)
        let unreaped = exited(pid, true);
        (stayed_blocked, unreaped, killed, child.wait().unwrap())
    });
    let r = block();
    let returned = Instant::now();
    let _ = done_tx.send(());
    let (stayed_blocked, unreaped, killed, exit) = killer.join().unwrap();
    assert_eq!(exit, Exit::Signal(libc::SIGKILL));
    assert!(
        !stayed_blocked,
        "blocked on a killed, unreaped child for {:?}",
        returned - killed
    );
    assert!(unreaped, "the child was reaped while the parent waited");
    r
}

#[test]
#[cfg_attr(miri, ignore)] // fork and shm_open
fn recv_on_a_killed_unreaped_child_returns_peer_died() {
    let name = TempName::new("il-live").unwrap();
    let channel = SpscChannel::<u64>::create(&name, RingConfig::new(8), &options()).unwrap();
    let mut rx = channel.receiver().unwrap();
    let child = holder(|| channel.sender().ok());
    let pid = child.pid();
    // The child uses the channel it inherited, so it holds no presence
    // lock of its own: it is judged alive because it maps the object.
    assert!(channel.holder_alive(pid));
    assert!(channel.sender().is_err(), "a live holder keeps its role");
    let got = while_blocked(child, || rx.recv());
    assert_eq!(got, Err(RecvError::PeerDied { holder: pid }));
}

#[test]
#[cfg_attr(miri, ignore)] // fork and shm_open
fn recv_timeout_on_a_killed_unreaped_child_returns_peer_died() {
    let name = TempName::new("il-live").unwrap();
    let channel = SpscChannel::<u64>::create(&name, RingConfig::new(8), &options()).unwrap();
    let mut rx = channel.receiver().unwrap();
    let child = holder(|| channel.sender().ok());
    let pid = child.pid();
    let got = while_blocked(child, || rx.recv_timeout(Duration::from_secs(120)));
    assert_eq!(got, Err(RecvError::PeerDied { holder: pid }));
}

#[test]
#[cfg_attr(miri, ignore)] // fork and shm_open
fn send_to_a_killed_unreaped_child_returns_peer_died() {
    let name = TempName::new("il-live").unwrap();
    let channel = SpscChannel::<u64>::create(&name, RingConfig::new(4), &options()).unwrap();
    let mut tx = channel.sender().unwrap();
    while tx.try_send(7).is_ok() {}
    let child = holder(|| channel.receiver().ok());
    let pid = child.pid();
    let got = while_blocked(child, || tx.send(8));
    assert_eq!(got, Err(SendError::PeerDied { holder: pid }));
}

#[test]
#[cfg_attr(miri, ignore)] // fork and shm_open
fn bytes_recv_on_a_killed_unreaped_child_returns_peer_died() {
    let name = TempName::new("il-live").unwrap();
    let channel = ByteChannel::create(&name, RingConfig::new(256), &options()).unwrap();
    let mut rx = channel.receiver().unwrap();
    let child = holder(|| channel.sender().ok());
    let pid = child.pid();
    let mut buf = [0u8; 64];
    let got = while_blocked(child, || rx.recv(&mut buf));
    assert_eq!(got, Err(RecvError::PeerDied { holder: pid }));
}

#[test]
#[cfg_attr(miri, ignore)] // fork and shm_open
fn a_zombies_spsc_roles_are_taken_over() {
    let name = TempName::new("il-live").unwrap();
    let channel = SpscChannel::<u64>::create(&name, RingConfig::new(8), &options()).unwrap();
    let child = holder(|| Some((channel.sender().ok()?, channel.receiver().ok()?)));
    make_zombie(&child);
    let mut tx = channel.sender().expect("the zombie's producer role");
    let mut rx = channel.receiver().expect("the zombie's consumer role");
    tx.try_send(5).unwrap();
    assert_eq!(rx.try_recv(), Ok(5));
    assert_eq!(child.wait().unwrap(), Exit::Signal(libc::SIGKILL));
}

#[test]
#[cfg_attr(miri, ignore)] // fork and shm_open
fn a_zombies_bytes_roles_are_taken_over() {
    let name = TempName::new("il-live").unwrap();
    let channel = ByteChannel::create(&name, RingConfig::new(256), &options()).unwrap();
    let child = holder(|| Some((channel.sender().ok()?, channel.receiver().ok()?)));
    make_zombie(&child);
    let mut tx = channel.sender().expect("the zombie's producer role");
    let mut rx = channel.receiver().expect("the zombie's consumer role");
    tx.try_send(3, b"hi").unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(rx.try_recv(&mut buf), Ok((3, 2)));
    assert_eq!(child.wait().unwrap(), Exit::Signal(libc::SIGKILL));
}

#[test]
#[cfg_attr(miri, ignore)] // fork and shm_open
fn a_zombies_users_word_is_taken_over() {
    let name = TempName::new("il-live").unwrap();
    let channel = MpmcChannel::<u64>::create(&name, RingConfig::new(8), &options()).unwrap();
    assert_eq!(channel.user_slot(), Some(UserSlot::Word(0)));
    let child = holder(|| {
        let opened = MpmcChannel::<u64>::open(&name, &options()).ok()?;
        (opened.user_slot() == Some(UserSlot::Word(1))).then_some(opened)
    });
    make_zombie(&child);
    let State::Valid(s) = inspect::probe(&name).unwrap().state else {
        panic!("not valid")
    };
    let users: Vec<_> = s
        .roles
        .iter()
        .map(|r| (r.holder.pid, r.holder.alive))
        .collect();
    assert_eq!(
        users,
        [(process::current_pid(), true), (child.pid(), false)]
    );
    let again = MpmcChannel::<u64>::open(&name, &options()).unwrap();
    assert_eq!(
        again.user_slot(),
        Some(UserSlot::Word(1)),
        "the zombie's word"
    );
    assert_eq!(child.wait().unwrap(), Exit::Signal(libc::SIGKILL));
}

/// A zombie that created `name` (with `create`) and holds what `claim`
/// took in it.
fn zombie_creator<H>(create: impl FnOnce() -> Option<H>) -> Child {
    let child = holder(create);
    make_zombie(&child);
    child
}

#[test]
#[cfg_attr(miri, ignore)] // fork and shm_open
fn an_object_whose_creator_and_holders_are_zombies_is_stale() {
    let spsc = TempName::new("il-live").unwrap();
    let child = zombie_creator(|| {
        let mut ch = SpscChannel::<u64>::create(&spsc, RingConfig::new(8), &options()).ok()?;
        ch.keep_name();
        // Leaked so that the roles borrow it for the child's life.
        let ch = Box::leak(Box::new(ch));
        Some((ch.sender().ok()?, ch.receiver().ok()?))
    });
    let object = inspect::probe(&spsc).unwrap();
    let State::Valid(s) = &object.state else {
        panic!("{:?}", object.state)
    };
    assert_eq!(s.creator.pid, child.pid());
    assert!(!s.creator.alive, "a zombie creator is dead");
    assert!(s
        .roles
        .iter()
        .all(|r| r.holder.pid == child.pid() && !r.holder.alive));
    assert!(object.is_stale(), "{}", object.state);
    let collected = inspect::gc(|n| n == spsc.as_str()).unwrap();
    assert_eq!(collected.len(), 1, "gc removes it");
    assert!(collected[0].1.is_ok());
    assert_eq!(child.wait().unwrap(), Exit::Signal(libc::SIGKILL));

    let mpmc = TempName::new("il-live").unwrap();
    let child = zombie_creator(|| {
        let mut ch = MpmcChannel::<u64>::create(&mpmc, RingConfig::new(8), &options()).ok()?;
        ch.keep_name();
        Some(ch)
    });
    let object = inspect::probe(&mpmc).unwrap();
    assert!(object.is_stale(), "{}", object.state);
    // `create` replaces a stale object of its name.
    let mine = MpmcChannel::<u64>::create(&mpmc, RingConfig::new(8), &options())
        .expect("the zombie's object is replaced");
    assert!(mine.is_creator());
    assert_eq!(child.wait().unwrap(), Exit::Signal(libc::SIGKILL));
}

#[test]
#[cfg_attr(miri, ignore)] // fork
fn a_zombie_mutex_owner_is_dead() {
    let map = Mapping::anonymous(4096).unwrap();
    let m = Mutex::init(map.region(), 0u64).unwrap();
    let (wait, me) = (Futex, Robust::new());
    let child = holder(|| {
        let mut g = m.lock(&wait, &me, None).ok()?;
        g.set(1);
        Some(g)
    });
    make_zombie(&child);
    match m.lock(&Futex, &Robust::new(), Some(Duration::from_secs(20))) {
        Err(LockError::OwnerDied(mut g)) => {
            assert_eq!(g.get(), 1);
            g.mark_consistent();
        }
        Ok(_) => panic!("the zombie's lock was free"),
        Err(LockError::TimedOut) => panic!("a zombie owner counted as alive"),
        Err(_) => panic!("not recoverable"),
    }
    assert!(signal::kill(child.pid(), 0).is_ok(), "still a zombie");
    assert_eq!(child.wait().unwrap(), Exit::Signal(libc::SIGKILL));
}

// ---------------------------------------------------------------------
// Presence locks: pid reuse and pid namespaces.
// ---------------------------------------------------------------------

/// A pid that names no process: beyond the largest `pid_max` (2^22).
const NO_SUCH_PID: u32 = 5_000_000;

/// A live process that does not map any of our objects (an exec'd
/// `sleep`): what a dead holder's pid names once a newcomer took it.
struct Newcomer(std::process::Child);

impl Newcomer {
    fn spawn() -> Self {
        let child = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .unwrap();
        Self(child)
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Newcomer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Writes `value` into the 32-bit word at `offset` of `channel`'s mapping,
/// as a peer would.
fn poke<S: interlink_linux::channel::Shape>(
    channel: &interlink_linux::channel::Channel<S>,
    offset: usize,
    value: u32,
) {
    assert!(offset.is_multiple_of(4) && offset + 4 <= channel.mapping().len());
    // SAFETY: in bounds (checked) and 4-aligned in a live, writable,
    // page-aligned mapping; reached atomically.
    let word = unsafe {
        &*channel
            .mapping()
            .as_ptr()
            .add(offset)
            .cast::<std::sync::atomic::AtomicU32>()
    };
    word.store(value, std::sync::atomic::Ordering::Release);
}

/// The header's creator pid and the SPSC/bytes role words.
const CREATOR: usize = 36;
const PRODUCER: usize = 64;
const CONSUMER: usize = 68;

#[test]
#[cfg_attr(miri, ignore)] // exec and shm_open
fn a_reused_pid_does_not_keep_a_dead_holder_alive() {
    let newcomer = Newcomer::spawn();
    let pid = newcomer.pid();
    assert!(liveness::process_alive(pid));

    // Roles: recorded holders whose pid now names the newcomer.
    let name = TempName::new("il-live").unwrap();
    let channel = SpscChannel::<u64>::create(&name, RingConfig::new(8), &options()).unwrap();
    poke(&channel, PRODUCER, pid);
    poke(&channel, CONSUMER, pid);
    assert!(!channel.holder_alive(pid), "the newcomer holds no presence");
    let mut tx = channel.sender().expect("the dead producer's role");
    let mut rx = channel.receiver().expect("the dead consumer's role");
    tx.try_send(1).unwrap();
    assert_eq!(rx.try_recv(), Ok(1));

    // Users table.
    let mpmc = TempName::new("il-live").unwrap();
    let users = MpmcChannel::<u64>::create(&mpmc, RingConfig::new(8), &options()).unwrap();
    let ring = users.handle().unwrap().ring();
    assert_eq!(
        ring.join(Holder::new(pid).unwrap(), |_| true),
        UserSlot::Word(1)
    );
    let again = MpmcChannel::<u64>::open(&mpmc, &options()).unwrap();
    assert_eq!(
        again.user_slot(),
        Some(UserSlot::Word(1)),
        "the dead user's word"
    );

    // Staleness: creator and roles all name the newcomer.
    let gone = TempName::new("il-live").unwrap();
    let opts = options().unlink_on_drop(false);
    let left = SpscChannel::<u64>::create(&gone, RingConfig::new(8), &opts).unwrap();
    poke(&left, CREATOR, pid);
    poke(&left, PRODUCER, pid);
    drop(left);
    let object = inspect::probe(&gone).unwrap();
    let State::Valid(s) = &object.state else {
        panic!("{:?}", object.state)
    };
    assert_eq!(s.creator.pid, pid);
    assert!(!s.creator.alive, "{}", object.state);
    assert!(object.is_stale(), "{}", object.state);
    assert!(liveness::process_alive(pid), "the newcomer still runs");
}

/// A holder in another pid namespace records a pid that means nothing (or
/// something else) here; its presence lock says it lives. Simulated with
/// a child that records [`NO_SUCH_PID`] and holds that pid's presence
/// byte, as such a holder's own channel would.
#[test]
#[cfg_attr(miri, ignore)] // fork and shm_open
fn a_holder_known_only_by_its_presence_lock_lives_until_it_dies() {
    use interlink_core::spsc::SpscRing;
    use interlink_linux::lock::{LockKind, OfdLock};
    use interlink_linux::shm::Shm;

    let name = TempName::new("il-live").unwrap();
    let channel = SpscChannel::<u64>::create(&name, RingConfig::new(8), &options()).unwrap();
    let mut rx = channel.receiver().unwrap();
    let child = holder(|| {
        let shm = Shm::open(&name).ok()?;
        let lock = OfdLock::try_lock(
            std::os::fd::AsFd::as_fd(&shm),
            LockKind::Shared,
            liveness::presence_range(NO_SUCH_PID),
        )
        .ok()??;
        std::mem::forget(lock);
        let ring = SpscRing::<u64>::attach(channel.mapping().region()).ok()?;
        let tx = ring
            .take_over_producer(Holder::new(NO_SUCH_PID)?, |_| false)
            .ok()?;
        std::mem::forget(tx);
        Some(shm)
    });
    assert!(!liveness::process_alive(NO_SUCH_PID));
    assert!(channel.holder_alive(NO_SUCH_PID));
    assert!(matches!(
        channel.sender(),
        Err(interlink_linux::channel::ChannelError::Role(
            interlink_core::RoleError::Taken {
                holder: NO_SUCH_PID
            }
        ))
    ));
    let State::Valid(s) = inspect::probe(&name).unwrap().state else {
        panic!("not valid")
    };
    assert_eq!(s.roles[0].holder.pid, NO_SUCH_PID);
    assert!(s.roles[0].holder.alive, "the inspector sees the lock");
    assert_eq!(
        rx.recv_timeout(Duration::from_millis(100)),
        Err(RecvError::TimedOut),
        "a live peer, not PeerDied"
    );
    // Killed: the kernel drops its lock at exit, zombie or not.
    let got = while_blocked(child, || rx.recv());
    assert_eq!(
        got,
        Err(RecvError::PeerDied {
            holder: NO_SUCH_PID
        })
    );
    assert!(!channel.holder_alive(NO_SUCH_PID));
    channel.sender().expect("the dead holder's role");
}

/// A process that created a channel, holds its producer role and forked a
/// worker (which inherited the channel) dies: the worker, still running,
/// does not keep the dead process's presence, so a restarted process takes
/// the role over and the object's creator reads as dead.
#[test]
#[cfg_attr(miri, ignore)] // fork and shm_open
fn a_forked_child_does_not_keep_its_dead_parents_presence() {
    let name = TempName::new("il-live").unwrap();
    let worker_pid = common::Words::new(1);
    let opts = options().unlink_on_drop(false);
    let parent = holder(|| {
        let channel = SpscChannel::<u64>::create(&name, RingConfig::new(8), &opts).ok()?;
        let channel = Box::leak(Box::new(channel));
        let tx = channel.sender().ok()?;
        // It ends by itself in a minute, should the test fail to kill it
        // (it holds the test's output pipes open while it runs).
        let worker = fork(|| {
            std::thread::sleep(Duration::from_secs(60));
            0
        })
        .ok()?;
        worker_pid
            .get(0)
            .store(worker.pid(), std::sync::atomic::Ordering::Release);
        // Never waited for: it outlives this process.
        std::mem::forget(worker);
        Some(tx)
    });
    let worker = worker_pid.get(0).load(std::sync::atomic::Ordering::Acquire);
    struct KillOnDrop(u32);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = signal::kill(self.0, libc::SIGKILL);
        }
    }
    let _worker = KillOnDrop(worker);
    assert!(liveness::process_alive(worker));
    let pid = parent.pid();
    make_zombie(&parent);
    let opened = SpscChannel::<u64>::open(&name, &options()).unwrap();
    assert!(
        !opened.holder_alive(pid),
        "the worker keeps no presence of its parent"
    );
    let object = inspect::probe(&name).unwrap();
    let State::Valid(s) = &object.state else {
        panic!("{:?}", object.state)
    };
    assert!(
        !s.creator.alive && !s.roles[0].holder.alive,
        "{}",
        object.state
    );
    opened.sender().expect("the dead parent's role");
    assert!(liveness::process_alive(worker), "the worker still runs");
    assert_eq!(parent.wait().unwrap(), Exit::Signal(libc::SIGKILL));
}

/// A creator that kept the name and dropped its channel no longer uses
/// the object: with no other holder, it is stale while the creator runs.
/// While the channel lives, it is not.
#[test]
#[cfg_attr(miri, ignore)] // shm_open
fn a_creator_that_left_its_object_no_longer_keeps_it() {
    let name = TempName::new("il-live").unwrap();
    let mut channel = SpscChannel::<u64>::create(&name, RingConfig::new(8), &options()).unwrap();
    channel.keep_name();
    let object = inspect::probe(&name).unwrap();
    assert!(!object.is_stale(), "{}", object.state);
    drop(channel);
    let object = inspect::probe(&name).unwrap();
    assert!(object.is_stale(), "{}", object.state);
}

/// A real holder in another pid namespace (`unshare(CLONE_NEWPID)`, which
/// needs privileges: skipped without them). It records its own pid there
/// (2: the namespace's init comes first), which here names another
/// process (`kthreadd` on most systems, alive but not a user of the
/// object) or none: only its presence lock says it holds the role, and
/// its death ends it.
#[test]
#[cfg_attr(miri, ignore)] // fork, unshare and shm_open
fn a_holder_in_another_pid_namespace_is_judged_by_its_presence() {
    use std::sync::atomic::Ordering;
    let name = TempName::new("il-live").unwrap();
    let channel = SpscChannel::<u64>::create(&name, RingConfig::new(8), &options()).unwrap();
    let mut rx = channel.receiver().unwrap();
    // [0]: the inner holder's pid here; [1]: the pid it recorded.
    let words = common::Words::new(2);
    let mut ready = Gate::new();
    let middle = fork(|| {
        // SAFETY: unshare has no memory-safety preconditions; it puts this
        // process's future children in a new pid namespace.
        if unsafe { libc::unshare(libc::CLONE_NEWPID) } != 0 {
            return 77;
        }
        // Both die with this process (so a failing test leaves nothing
        // behind: the namespace ends with its init).
        let die_with_parent = || {
            // SAFETY: prctl(PR_SET_PDEATHSIG) only sets a signal number.
            unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
        };
        // The namespace's init (pid 1 there); the holder comes second.
        let Ok(init) = fork(|| {
            die_with_parent();
            loop {
                std::thread::sleep(Duration::from_secs(1));
            }
        }) else {
            return 6;
        };
        let Ok(inner) = fork(|| {
            die_with_parent();
            let Ok(ch) = SpscChannel::<u64>::open(&name, &options()) else {
                return 2;
            };
            let Ok(_tx) = ch.sender() else { return 3 };
            words
                .get(1)
                .store(process::current_pid(), Ordering::Release);
            ready.open();
            loop {
                std::thread::sleep(Duration::from_secs(1));
            }
        }) else {
            return 4;
        };
        words.get(0).store(inner.pid(), Ordering::Release);
        let exit = inner.wait();
        drop(init); // kills and reaps it
        match exit {
            Ok(Exit::Signal(libc::SIGKILL)) => 0,
            _ => 5,
        }
    })
    .unwrap();
    if !ready.wait() {
        let exit = middle.wait().unwrap();
        assert_eq!(exit, Exit::Code(77), "the namespaced holder failed");
        eprintln!("skipped: unshare(CLONE_NEWPID) not permitted");
        return;
    }
    let (outer, recorded) = loop {
        let outer = words.get(0).load(Ordering::Acquire);
        if outer != 0 {
            break (outer, words.get(1).load(Ordering::Acquire));
        }
        std::thread::yield_now();
    };
    assert_ne!(
        outer, recorded,
        "the holder's pid here is not the one it recorded"
    );
    assert_eq!(recorded, 2, "the second process of a new pid namespace");
    assert!(channel.holder_alive(recorded));
    assert!(matches!(
        channel.sender(),
        Err(interlink_linux::channel::ChannelError::Role(
            interlink_core::RoleError::Taken { holder: 2 }
        ))
    ));
    let State::Valid(s) = inspect::probe(&name).unwrap().state else {
        panic!("not valid")
    };
    assert_eq!((s.roles[0].holder.pid, s.roles[0].holder.alive), (2, true));
    assert_eq!(
        rx.recv_timeout(Duration::from_millis(100)),
        Err(RecvError::TimedOut),
        "a live peer, not PeerDied"
    );
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        signal::kill(outer, libc::SIGKILL).unwrap();
    });
    assert_eq!(
        rx.recv_timeout(REAP_AFTER),
        Err(RecvError::PeerDied { holder: 2 })
    );
    killer.join().unwrap();
    assert_eq!(middle.wait().unwrap(), Exit::Code(0));
    assert!(!channel.holder_alive(2));
    channel.sender().expect("the dead holder's role");
}
