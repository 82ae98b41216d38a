/work/main/os-linux/target/i686-tests/cross-width/i686-unknown-linux-gnu/debug/deps/stable_deref_trait-51a8b126f8480564.d: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/stable_deref_trait-1.2.1/src/lib.rs

/work/main/os-linux/target/i686-tests/cross-width/i686-unknown-linux-gnu/debug/deps/libstable_deref_trait-51a8b126f8480564.rlib: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/stable_deref_trait-1.2.1/src/lib.rs

/work/main/os-linux/target/i686-tests/cross-width/i686-unknown-linux-gnu/debug/deps/libstable_deref_trait-51a8b126f8480564.rmeta: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/stable_deref_trait-1.2.1/src/lib.rs

/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/stable_deref_trait-1.2.1/src/lib.rs:
