//! A 32-bit and a 64-bit process share every structure: SPSC channels of
//! `u64` and `f64`, MPMC channels of `u64` and `f64`, a byte channel, a
//! many-to-one channel, a broadcast channel, latest tables and fan-out
//! rings of `u64` and `f64`, a block pool (its handles through an SPSC
//! channel), request–response (server and client of different widths) and
//! the robust mutex (`OwnerDied` included), in both directions (each width
//! creating once and opening once); and a ring too large for 32 bits is
//! refused there with a typed error.
//!
//! The test builds the peer program `tests/cross_width_peer` for
//! `i686-unknown-linux-gnu` (only interlink-core and interlink-linux, into
//! `target/cross-width`) and runs it against this process, which runs the
//! other half of the same code (`tests/cross_width_peer/src/peer.rs`).
//! Without the i686 target it is skipped, saying so: `rustup target add
//! i686-unknown-linux-gnu`, and a linker for it (Debian:
//! `crossbuild-essential-i386`, whose `i686-linux-gnu-gcc` is used when
//! `CARGO_TARGET_I686_UNKNOWN_LINUX_GNU_LINKER` is not set, or
//! `gcc-multilib`).
//!
//! It is the 64-bit half: built for a 32-bit target (CI runs the library
//! tests for i686 too) it compiles to nothing.
#![cfg(target_pointer_width = "64")]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

#[path = "cross_width_peer/src/more.rs"]
mod more;
#[allow(dead_code)] // both halves are used, by different tests
#[path = "cross_width_peer/src/peer.rs"]
mod peer;

const TARGET: &str = "i686-unknown-linux-gnu";
/// Values sent through each channel, each way.
const COUNT: u32 = 20_000;

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Whether the toolchain has the standard library for `TARGET`.
fn target_installed() -> bool {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let Ok(out) = Command::new(rustc).args(["--print", "sysroot"]).output() else {
        return false;
    };
    let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    Path::new(&sysroot)
        .join("lib/rustlib")
        .join(TARGET)
        .join("lib")
        .is_dir()
}

/// Builds the peer for i686 (once per test run): its path, or why not.
fn peer_binary() -> &'static Result<PathBuf, String> {
    static PEER: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    PEER.get_or_init(|| {
        if !target_installed() {
            return Err(format!(
                "the {TARGET} target is not installed (rustup target add {TARGET})"
            ));
        }
        let target_dir = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| manifest_dir().join("../target"))
            .join("cross-width");
        let cargo = option_env!("CARGO").unwrap_or("cargo");
        let mut build = Command::new(cargo);
        build
            .args(["build", "--quiet", "--target", TARGET, "--manifest-path"])
            .arg(manifest_dir().join("tests/cross_width_peer/Cargo.toml"))
            .arg("--target-dir")
            .arg(&target_dir)
            // Static: a 64-bit system with a cross toolchain has no 32-bit
            // dynamic loader (`/lib/ld-linux.so.2`) to run it with.
            .env(
                "CARGO_TARGET_I686_UNKNOWN_LINUX_GNU_RUSTFLAGS",
                "-C target-feature=+crt-static",
            )
            .stdin(Stdio::null());
        let linker_var = "CARGO_TARGET_I686_UNKNOWN_LINUX_GNU_LINKER";
        if std::env::var_os(linker_var).is_none()
            && Command::new("i686-linux-gnu-gcc")
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        {
            build.env(linker_var, "i686-linux-gnu-gcc");
        }
        let out = build
            .output()
            .map_err(|e| format!("cannot run {cargo}: {e}"))?;
        if !out.status.success() {
            panic!(
                "building the i686 peer failed (is a linker for {TARGET} installed? \
                 Debian: crossbuild-essential-i386 or gcc-multilib):\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(target_dir
            .join(TARGET)
            .join("debug/interlink-cross-width-peer"))
    })
}

/// The peer, or `None` (with a message) when the test must be skipped.
fn peer() -> Option<&'static Path> {
    match peer_binary() {
        Ok(path) => {
            // ELF class 1: a 32-bit program.
            let elf = std::fs::read(path).expect("read the peer");
            assert_eq!(
                elf.get(4),
                Some(&1),
                "{} is not a 32-bit ELF",
                path.display()
            );
            Some(path)
        }
        Err(why) => {
            eprintln!("SKIPPED cross-width test: {why}");
            None
        }
    }
}

fn prefix(tag: &str) -> String {
    format!("/il-xw-{tag}-{}", std::process::id())
}

/// Waits for the peer, killing it after `limit`.
fn finish(mut child: Child, limit: Duration) -> Result<(), String> {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait for the peer") {
            let mut stderr = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
            }
            return if status.success() {
                Ok(())
            } else {
                Err(format!("the 32-bit peer failed ({status}): {stderr}"))
            };
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return Err("the 32-bit peer did not finish in time".to_owned());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs `role` in the 32-bit peer and the other role here.
fn exchange(peer_role: &str, tag: &str) {
    let Some(peer_path) = peer() else { return };
    let prefix = prefix(tag);
    let child = Command::new(peer_path)
        .args([peer_role, &prefix, &COUNT.to_string()])
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the 32-bit peer");
    let here = if peer_role == "recv" {
        peer::send(&prefix, COUNT)
    } else {
        peer::recv(&prefix, COUNT)
    };
    let there = finish(child, Duration::from_secs(300));
    assert_eq!(
        (here, there),
        (Ok(()), Ok(())),
        "(this 64-bit process, the 32-bit peer)"
    );
}

/// A ring of 4 GiB and more that this process made is refused by the
/// 32-bit peer: opening it is a size error, and the core, given its
/// header, says `TooLarge` (never a crash or a truncated length).
#[test]
fn a_32_bit_process_refuses_a_ring_it_cannot_address() {
    let Some(peer_path) = peer() else { return };
    let name = prefix("huge");
    let _huge = peer::create_huge(&name).expect("create the huge ring (sparse)");
    let child = Command::new(peer_path)
        .args(["refuse-huge", &name, "0"])
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the 32-bit peer");
    assert_eq!(finish(child, Duration::from_secs(120)), Ok(()));
}

#[test]
fn a_64_bit_sender_and_a_32_bit_creator_and_receiver() {
    exchange("recv", "to32");
}

#[test]
fn a_32_bit_sender_and_a_64_bit_creator_and_receiver() {
    exchange("send", "to64");
}
