//! The Linux crate's modules depend on each other one way: no two modules
//! import each other, directly or round a longer loop (the graph is read
//! from `os-linux/src` as `core/tests/support/module_graph.rs` says).
//!
//! `cargo test -p interlink-linux --test module_graph -- --nocapture`
//! prints the edges between modules.

use std::path::Path;

#[path = "../../core/tests/support/module_graph.rs"]
mod module_graph;

use module_graph::{module_edges, print_and_assert_acyclic};

#[test]
fn modules_form_no_cycles() {
    let edges = module_edges(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(
        !edges.is_empty(),
        "no edges found: is the source tree there?"
    );
    print_and_assert_acyclic(&edges, "module edges", 1);
}
