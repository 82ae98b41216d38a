//! The core's modules depend on each other one way: foundation → wait →
//! sync → ring → codec (each layer may use only the layers before it), and
//! no two modules import each other, directly or round a longer loop.
//!
//! The graph is read from `core/src` as `support/module_graph.rs` says.
//!
//! `cargo test -p interlink-core --test module_layers -- --nocapture`
//! prints the edges between layers and between modules.
#![cfg(not(loom))] // paths and sources, not concurrency: nothing for loom to model

use std::path::Path;

#[path = "support/module_graph.rs"]
mod module_graph;

use module_graph::{collapse, module_edges, print_and_assert_acyclic};

/// The layers, bottom up.
const LAYERS: &[&str] = &["foundation", "wait", "sync", "ring", "codec"];

#[test]
#[cfg_attr(miri, ignore)] // reads the source tree
fn modules_form_no_cycles_and_layers_point_one_way() {
    let edges = module_edges(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let layers = collapse(&edges, 1);
    print_and_assert_acyclic(&edges, "layer edges", 1);
    print_and_assert_acyclic(&edges, "module edges", 2);
    let rank = |m: &str| LAYERS.iter().position(|l| *l == m);
    for (a, b) in &layers {
        let (Some(ra), Some(rb)) = (rank(a), rank(b)) else {
            panic!("{a} → {b}: every module belongs to a layer of {LAYERS:?}");
        };
        assert!(
            ra > rb,
            "{a} → {b}: a layer may only use the layers below it"
        );
    }
}
