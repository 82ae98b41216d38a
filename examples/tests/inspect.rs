//! The `interlink-inspect` binary against real objects under /dev/shm:
//! live, stale, corrupt and foreign ones.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use interlink_core::RingConfig;
use interlink_linux::channel::{ChannelOptions, SpscChannel};
use interlink_linux::shm::{ShmName, TempName};

/// Runs the inspector; returns (exit code, stdout, stderr).
fn inspect(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_interlink-inspect"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A pid that belonged to a process which has exited and been reaped.
fn dead_pid() -> u32 {
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

/// Writes the header word at `offset` of a channel's mapping.
fn poke(ch: &SpscChannel<u64>, offset: usize, value: u32) {
    assert!(offset + 4 <= 128); // the header and the role words
                                // SAFETY: inside the first 128 bytes of a live, writable, page-aligned
                                // mapping (the ring is larger).
    unsafe {
        (*ch.mapping().as_ptr().add(offset).cast::<AtomicU32>()).store(value, Ordering::Relaxed)
    }
}

fn line_of<'a>(out: &'a str, name: &str) -> Option<&'a str> {
    out.lines()
        .find(|l| l.split_whitespace().next() == Some(name))
}

#[test]
fn ls_inspect_rm_and_gc() {
    let opts = ChannelOptions::new().unlink_on_drop(false);
    let live = TempName::new("il-insp").unwrap();
    let stale = TempName::new("il-insp").unwrap();
    let corrupt = TempName::new("il-insp").unwrap();
    let foreign = TempName::new("il-insp").unwrap();
    let prefix = format!("/il-insp-{}-", std::process::id());

    // A live channel with three messages in it and a producer attached.
    let live_ch = SpscChannel::<u64>::create(&live, RingConfig::new(64), &opts).unwrap();
    let mut tx = live_ch.sender().unwrap();
    for i in 0..3 {
        tx.try_send(i).unwrap();
    }
    // A channel whose creator and producer are dead.
    let stale_ch = SpscChannel::<u64>::create(&stale, RingConfig::new(64), &opts).unwrap();
    let dead = dead_pid();
    poke(&stale_ch, 36, dead); // creator pid
    std::mem::forget(stale_ch.sender().unwrap()); // leaves our pid as producer...
    poke(&stale_ch, 64, dead); // ... rewritten to the dead one
                               // A channel with a corrupt capacity.
    let corrupt_ch = SpscChannel::<u64>::create(&corrupt, RingConfig::new(64), &opts).unwrap();
    poke(&corrupt_ch, 32, 100);
    // Something else's object.
    std::fs::write(
        ShmName::new(&foreign).unwrap().path(),
        b"not ours at all, longer than a header, really quite a lot longer",
    )
    .unwrap();

    let (code, out, err) = inspect(&["ls"]);
    assert_eq!(code, 0, "{err}");
    let row =
        line_of(&out, &live).unwrap_or_else(|| panic!("{} missing from\n{out}", live.as_str()));
    let me = std::process::id().to_string();
    for field in [
        "spsc",
        "8/8",
        "64",
        " 3 ",
        "live",
        &format!("producer={me}"),
    ] {
        assert!(row.contains(field), "{field:?} not in {row:?}");
    }
    assert!(row.contains("consumer=-"), "{row}");
    let row = line_of(&out, &stale).unwrap();
    assert!(
        row.contains(&format!("{dead}(dead)")) && row.contains("stale"),
        "{row}"
    );
    assert!(
        line_of(&out, &corrupt).unwrap().contains("corrupt"),
        "{out}"
    );
    assert!(
        line_of(&out, &foreign).is_none(),
        "foreign objects are hidden:\n{out}"
    );
    let (_, all, _) = inspect(&["ls", "--all"]);
    assert!(line_of(&all, &foreign)
        .unwrap()
        .contains("not an interlink object"));

    let (code, out, _) = inspect(&["inspect", &live]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("fill:      3 of 64"), "{out}");
    assert!(out.contains("magic:     0x4b4e4c49"), "{out}");
    assert!(out.contains("stale:     no"), "{out}");
    let (code, out, _) = inspect(&["inspect", &corrupt]);
    assert_eq!(code, 1, "corruption is flagged in the exit code:\n{out}");
    assert!(
        out.contains("CORRUPT:") && out.contains("capacity"),
        "{out}"
    );
    let (code, _, err) = inspect(&["inspect", "/il-insp-does-not-exist"]);
    assert_eq!(code, 2);
    assert!(err.contains("No such file"), "{err}");

    // gc removes the stale object only.
    let (code, out, _) = inspect(&["gc", &prefix]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("removed {}", stale.as_str())),
        "{out}"
    );
    let (_, all, _) = inspect(&["ls", "--all"]);
    assert!(line_of(&all, &stale).is_none());
    for kept in [&live, &corrupt, &foreign] {
        assert!(
            line_of(&all, kept).is_some(),
            "gc removed {}",
            kept.as_str()
        );
    }

    // rm refuses a foreign object without --force.
    let (code, _, err) = inspect(&["rm", &foreign]);
    assert_eq!(code, 2);
    assert!(err.contains("--force"), "{err}");
    assert_eq!(inspect(&["rm", "--force", &foreign]).0, 0);
    // Both are in use (their recorded creator, this test, is alive): --force.
    assert_eq!(inspect(&["rm", "--force", &live]).0, 0);
    assert_eq!(
        inspect(&["rm", "--force", &corrupt[1..]]).0,
        0,
        "a name without its slash works"
    );
    let (_, all, _) = inspect(&["ls", "--all"]);
    for gone in [&live, &corrupt, &foreign] {
        assert!(line_of(&all, gone).is_none());
    }
    assert_eq!(inspect(&["frobnicate"]).0, 2);
    drop(tx);
}
