//! The README's first program runs and reports an in-order transfer.

#[test]
fn streams_in_order_between_processes() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_spsc_stream"))
        .arg("1000000")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("1000000 u64 values, parent -> child") && text.contains("all in order"),
        "{text}"
    );
}
