/work/main/os-linux/target/i686-tests/cross-width/i686-unknown-linux-gnu/debug/deps/interlink_cross_width_peer-567475da81cf9d18.d: src/main.rs src/more.rs src/peer.rs

/work/main/os-linux/target/i686-tests/cross-width/i686-unknown-linux-gnu/debug/deps/interlink_cross_width_peer-567475da81cf9d18: src/main.rs src/more.rs src/peer.rs

src/main.rs:
src/more.rs:
src/peer.rs:
