//! What `inspect::probe` (and so `interlink-inspect ls/inspect` and `gc`)
//! reads inside a block pool and a many-to-one ring: a pool's users table
//! (its live users keep it from being stale after its creator is gone),
//! and a many-to-one ring's consumer and skipped count.

mod common;

use common::unique_name;

use interlink_core::layout::Kind;
use interlink_core::RingConfig;
use interlink_linux::channel::pool::PoolChannel;
use interlink_linux::channel::{ChannelOptions, ManyToOneChannel};
use interlink_linux::inspect::{probe, State};
use interlink_linux::process::{self, fork};

#[test]
fn a_pools_live_users_keep_it_in_use_after_its_creator_died() {
    let name = unique_name("insp-pool");
    // The creator: another process, gone once it made the pool.
    let creator = fork(|| {
        let opts = ChannelOptions::new().unlink_on_drop(false);
        match PoolChannel::<4096>::create(&name, RingConfig::new(4), &opts) {
            Ok(_) => 0,
            Err(_) => 1,
        }
    })
    .unwrap();
    assert!(creator.wait().unwrap().success());

    let opts = ChannelOptions::new().unlink_on_drop(false);
    let user = PoolChannel::<4096>::open(&name, &opts).unwrap();
    let p = user.pool().unwrap();
    let held = p.try_loan().unwrap();
    let o = probe(&name).unwrap();
    let State::Valid(s) = &o.state else {
        panic!("{o:?}")
    };
    assert_eq!(s.kind, Kind::Pool);
    assert!(!s.creator.alive, "{s:?}");
    let me = process::current_pid();
    assert!(
        s.roles
            .iter()
            .any(|r| r.role == "user" && r.holder.pid == me && r.holder.alive),
        "{s:?}"
    );
    assert_eq!(s.fill, Some(1), "one block held");
    assert!(!o.is_stale(), "a live user: in use");
    drop(held);

    // The user leaves: nobody uses it any more.
    drop(user);
    let o = probe(&name).unwrap();
    let State::Valid(s) = &o.state else {
        panic!("{o:?}")
    };
    assert!(s.roles.iter().all(|r| !r.holder.alive), "{s:?}");
    assert!(o.is_stale());
    interlink_linux::shm::unlink(&name).unwrap();
}

#[test]
fn a_many_to_one_rings_consumer_and_skipped_count_are_shown() {
    let name = unique_name("insp-m2o");
    let ch =
        ManyToOneChannel::create(&name, RingConfig::new(1024), &ChannelOptions::new()).unwrap();
    let mut tx = ch.sender().unwrap();
    let mut rx = ch.receiver().unwrap();
    let at = tx.producer().abandon_claim(8).unwrap();
    rx.consumer().skip_stalled(at).unwrap();
    let o = probe(&name).unwrap();
    let State::Valid(s) = &o.state else {
        panic!("{o:?}")
    };
    assert_eq!(s.kind, Kind::ManyToOne);
    let me = process::current_pid();
    assert!(
        s.roles
            .iter()
            .any(|r| r.role == "consumer" && r.holder.pid == me && r.holder.alive),
        "{s:?}"
    );
    assert_eq!(s.skipped, Some(1));
    assert_eq!(s.fill, Some(0));
    assert!(
        o.state.to_string().contains("1 records skipped"),
        "{}",
        o.state
    );
}
