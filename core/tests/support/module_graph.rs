//! A crate's module graph, read from its sources: the edges between its
//! modules and the cycles among them. Shared by the tests that hold each
//! crate's modules to one direction (`core/tests/module_layers.rs`,
//! `os-linux/tests/module_graph.rs`).
//!
//! From every non-test line that is not a comment, each path that starts
//! with `crate::` or `super::` (groups in braces included) is an edge from
//! the file's module to the deepest module the path names. A path through
//! a root re-export (`crate::Region`, `crate::spsc::…`) is followed to the
//! module it re-exports. A module naming its own descendants (to re-export
//! them) is containment, not an edge. Test code (`tests.rs`,
//! `test_util.rs`, and top-level `#[cfg(…test…)]` items) is skipped: tests
//! may use anything.
#![allow(dead_code)] // each test uses its part

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// Every source file as (module path, text), tests skipped.
pub fn sources(root: &Path) -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<(String, String)>, root: &Path) {
        let mut entries: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, out, root);
            } else if p.extension().is_some_and(|e| e == "rs") {
                let name = p.file_stem().unwrap().to_str().unwrap();
                if name == "tests" || name == "test_util" {
                    continue;
                }
                let rel = p.strip_prefix(root).unwrap().with_extension("");
                let mut parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_str().unwrap().to_string())
                    .collect();
                if parts.last().is_some_and(|l| l == "mod" || l == "lib") {
                    parts.pop();
                }
                out.push((parts.join("::"), fs::read_to_string(&p).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, &mut out, root);
    out
}

/// The lines of `text` that are code outside top-level test items, with
/// comments removed.
fn code_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.starts_with("#[cfg(") && line.contains("test") {
            // Skip the item: up to a `;` line, or its closing `}` at column 0.
            for item in lines.by_ref() {
                if item.starts_with('}') || (!item.starts_with(' ') && item.ends_with(';')) {
                    break;
                }
            }
            continue;
        }
        let code = match line.find("//") {
            Some(i) => &line[..i],
            None => line,
        };
        out.push(code.to_string());
    }
    out
}

/// The paths that follow `prefix` (`crate::` or `super::`) in `code`,
/// with brace groups expanded.
fn paths_after(code: &str, prefix: &str) -> Vec<Vec<String>> {
    fn parse(s: &[u8], i: &mut usize, base: Vec<String>, out: &mut Vec<Vec<String>>) {
        let mut path = base;
        loop {
            let start = *i;
            while *i < s.len() && (s[*i].is_ascii_alphanumeric() || s[*i] == b'_') {
                *i += 1;
            }
            if *i > start {
                path.push(String::from_utf8_lossy(&s[start..*i]).into_owned());
            }
            let rest = s.get(*i..).unwrap_or(&[]);
            if rest.starts_with(b"::{") {
                *i += 3;
                loop {
                    while *i < s.len() && s[*i].is_ascii_whitespace() {
                        *i += 1;
                    }
                    if *i >= s.len() || s[*i] == b'}' {
                        *i += 1;
                        return;
                    }
                    parse(s, i, path.clone(), out);
                    // Past `as name` to the next item or the group's end.
                    while *i < s.len() && !matches!(s[*i], b',' | b'}') {
                        *i += 1;
                    }
                    if *i < s.len() && s[*i] == b',' {
                        *i += 1;
                    }
                }
            } else if rest.starts_with(b"::") {
                *i += 2;
            } else {
                // `as name`, `;`, `(`, `<` …: the path ends here.
                out.push(path);
                return;
            }
        }
    }
    let mut out = Vec::new();
    let s = code.as_bytes();
    let mut from = 0;
    while let Some(at) = code[from..].find(prefix) {
        let begin = from + at;
        let word_start = begin == 0
            || !(s[begin - 1].is_ascii_alphanumeric()
                || s[begin - 1] == b'_'
                || s[begin - 1] == b':');
        let mut i = begin + prefix.len();
        if word_start {
            parse(s, &mut i, Vec::new(), &mut out);
        }
        from = i.max(begin + prefix.len());
    }
    out
}

/// Module edges (from, to) between the modules of the crate whose `src`
/// is `root`.
pub fn module_edges(root: &Path) -> BTreeSet<(String, String)> {
    let files = sources(root);
    let modules: BTreeSet<String> = files.iter().map(|(m, _)| m.clone()).collect();
    // Root re-exports: `pub use a::b::{c, D};` names `c` (a module) or `D`
    // (an item) at the root.
    let root = &files.iter().find(|(m, _)| m.is_empty()).unwrap().1;
    let mut alias: BTreeMap<String, String> = BTreeMap::new();
    let root = code_lines(root).join("\n");
    for item in root.split(';') {
        let Some(rest) = item.trim().strip_prefix("pub use ") else {
            continue;
        };
        for path in paths_after(&format!("crate::{rest}"), "crate::") {
            let name = path.last().unwrap().clone();
            alias.insert(name, path[..path.len() - 1].join("::"));
        }
    }
    let resolve = |path: &[String]| -> Option<String> {
        let mut path = path.to_vec();
        // Follow root aliases until the path starts at a real module.
        for _ in 0..4 {
            let Some(first) = path.first() else { break };
            if modules.contains(first) {
                break;
            }
            let Some(target) = alias.get(first) else {
                break;
            };
            let mut full: Vec<String> = target.split("::").map(String::from).collect();
            if modules.contains(&format!("{}::{first}", target)) || target.is_empty() {
                full.push(first.clone());
            }
            full.extend(path[1..].iter().cloned());
            path = full.into_iter().filter(|s| !s.is_empty()).collect();
        }
        (1..=path.len())
            .rev()
            .map(|n| path[..n].join("::"))
            .find(|m| modules.contains(m))
    };
    let mut edges = BTreeSet::new();
    for (module, text) in &files {
        if module.is_empty() {
            continue;
        }
        let parent: Vec<String> = module.split("::").map(String::from).collect();
        let code = code_lines(text).join("\n");
        {
            let mut found = paths_after(&code, "crate::");
            for p in paths_after(&code, "super::") {
                let mut full = parent[..parent.len() - 1].to_vec();
                full.extend(p);
                found.push(full);
            }
            for p in found {
                if let Some(to) = resolve(&p) {
                    let descendant = to.starts_with(&format!("{module}::"));
                    if &to != module && !descendant {
                        edges.insert((module.clone(), to));
                    }
                }
            }
        }
    }
    edges
}

/// Edges with both ends cut to their first `depth` path segments.
pub fn collapse(edges: &BTreeSet<(String, String)>, depth: usize) -> BTreeSet<(String, String)> {
    let cut = |m: &str| m.split("::").take(depth).collect::<Vec<_>>().join("::");
    edges
        .iter()
        .map(|(a, b)| (cut(a), cut(b)))
        .filter(|(a, b)| a != b && !b.is_empty())
        .collect()
}

/// The cycles (strongly connected components of more than one node).
pub fn cycles(edges: &BTreeSet<(String, String)>) -> Vec<BTreeSet<String>> {
    let nodes: BTreeSet<&String> = edges.iter().flat_map(|(a, b)| [a, b]).collect();
    let reach = |from: &String| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.clone()];
        while let Some(n) = todo.pop() {
            for (a, b) in edges {
                if *a == n && seen.insert(b.clone()) {
                    todo.push(b.clone());
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<&String, BTreeSet<String>> =
        nodes.iter().map(|n| (*n, reach(n))).collect();
    let mut out: Vec<BTreeSet<String>> = Vec::new();
    for n in &nodes {
        let scc: BTreeSet<String> = nodes
            .iter()
            .filter(|m| *m == n || (reaches[n].contains(**m) && reaches[*m].contains(*n)))
            .map(|m| (*m).clone())
            .collect();
        if scc.len() > 1 && !out.contains(&scc) {
            out.push(scc);
        }
    }
    out
}

/// Prints `edges` cut to `depth` segments under `title`, and fails if the
/// modules import each other in a loop at depth 1 or 2.
pub fn print_and_assert_acyclic(edges: &BTreeSet<(String, String)>, title: &str, depth: usize) {
    println!("{title} (from → to):");
    for (a, b) in &collapse(edges, depth) {
        println!("  {a} → {b}");
    }
    for depth in 1..=2 {
        let found = cycles(&collapse(edges, depth));
        assert!(found.is_empty(), "import cycles between modules: {found:?}");
    }
}
