/work/main/os-linux/target/i686-tests/cross-width/i686-unknown-linux-gnu/debug/deps/byteorder-6cbde70a97da4fef.d: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/byteorder-1.5.0/src/lib.rs

/work/main/os-linux/target/i686-tests/cross-width/i686-unknown-linux-gnu/debug/deps/libbyteorder-6cbde70a97da4fef.rlib: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/byteorder-1.5.0/src/lib.rs

/work/main/os-linux/target/i686-tests/cross-width/i686-unknown-linux-gnu/debug/deps/libbyteorder-6cbde70a97da4fef.rmeta: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/byteorder-1.5.0/src/lib.rs

/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/byteorder-1.5.0/src/lib.rs:
