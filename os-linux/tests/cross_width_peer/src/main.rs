//! The 32-bit half of the cross-width test (`os-linux/tests/cross_width.rs`
//! runs the other half in its own 64-bit process).
//!
//! `interlink-cross-width-peer send|recv PREFIX COUNT`: exit 0 when every
//! exchange checked out, else 1 with the reason on stderr.
//! `interlink-cross-width-peer refuse-huge NAME 0`: exit 0 when the ring
//! at NAME (too large for 32 bits) is refused as it should be.

mod more;
#[allow(dead_code)] // create_huge is the 64-bit side's
mod peer;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, role, prefix, count] = &args[..] else {
        eprintln!("usage: interlink-cross-width-peer send|recv|refuse-huge PREFIX COUNT");
        std::process::exit(2);
    };
    let Ok(count) = count.parse::<u32>() else {
        eprintln!("COUNT must be a number, not {count:?}");
        std::process::exit(2);
    };
    let result = match role.as_str() {
        "send" => peer::send(prefix, count),
        "recv" => peer::recv(prefix, count),
        "refuse-huge" => peer::refuse_huge(prefix),
        _ => Err(format!("unknown role {role:?}: send, recv or refuse-huge")),
    };
    if let Err(e) = result {
        eprintln!("cross-width peer ({} bit, {role}): {e}", usize::BITS);
        std::process::exit(1);
    }
}
