//! `include/interlink.h` and the code agree: the header declares exactly
//! the functions the library exports (`#[no_mangle]` in `src/`), its
//! error codes and roles have the values the library returns, and the C
//! test program calls every declared function (`tests/c_programs.rs`
//! compiles and runs it with `-Wall -Wextra -Werror`).

use std::collections::BTreeSet;
use std::path::Path;

fn read(rel: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The text without `/* */` and `//` comments.
fn strip_c_comments(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    loop {
        let block = rest.find("/*");
        let line = rest.find("//");
        match (block, line) {
            (Some(b), l) if l.is_none_or(|l| b < l) => {
                out.push_str(&rest[..b]);
                let end = rest[b + 2..].find("*/").expect("unterminated comment");
                rest = &rest[b + 2 + end + 2..];
            }
            (_, Some(l)) => {
                out.push_str(&rest[..l]);
                rest = rest[l..].find('\n').map_or("", |n| &rest[l + n..]);
            }
            _ => {
                out.push_str(rest);
                return out;
            }
        }
    }
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Identifiers starting with `interlink_` that are followed by `(`.
fn called_or_declared(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut i = 0;
    let bytes = text.as_bytes();
    while let Some(at) = text[i..].find("interlink_") {
        let start = i + at;
        let boundary = start == 0 || !is_ident(bytes[start - 1] as char);
        let end = start
            + text[start..]
                .find(|c: char| !is_ident(c))
                .unwrap_or(text.len() - start);
        if boundary && text[end..].trim_start().starts_with('(') {
            names.insert(text[start..end].to_owned());
        }
        i = end;
    }
    names
}

/// The `#[no_mangle]` functions of the library's sources.
fn exported() -> BTreeSet<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut names = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read a source");
        let mut rest = text.as_str();
        while let Some(at) = rest.find("#[no_mangle]") {
            rest = &rest[at + "#[no_mangle]".len()..];
            let f = rest.find("fn ").expect("a function after #[no_mangle]");
            let name: String = rest[f + 3..].chars().take_while(|&c| is_ident(c)).collect();
            names.insert(name);
        }
    }
    names
}

/// `NAME = VALUE` entries of the C enum `enum_name`.
fn enum_values(header: &str, enum_name: &str) -> Vec<(String, i32)> {
    let start = header
        .find(&format!("enum {enum_name} {{"))
        .unwrap_or_else(|| panic!("enum {enum_name} in the header"));
    let body = &header[start..];
    let body = &body[body.find('{').unwrap() + 1..body.find('}').unwrap()];
    body.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|e| {
            let (name, value) = e.split_once('=').expect("NAME = VALUE");
            (
                name.trim().to_owned(),
                value.trim().parse().expect("an integer value"),
            )
        })
        .collect()
}

#[test]
fn the_header_declares_exactly_the_exported_functions() {
    let header = strip_c_comments(&read("include/interlink.h"));
    let declared = called_or_declared(&header);
    let exported = exported();
    assert!(exported.len() >= 30, "found only {exported:?}");
    assert_eq!(
        declared.difference(&exported).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "declared in the header, not exported by the library"
    );
    assert_eq!(
        exported.difference(&declared).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "exported by the library, not declared in the header"
    );
}

#[test]
fn every_declared_function_is_documented() {
    let header = read("include/interlink.h");
    for name in called_or_declared(&strip_c_comments(&header)) {
        let at = header
            .find(&format!(" {name}("))
            .or_else(|| header.find(&format!("*{name}(")))
            .unwrap_or_else(|| panic!("{name} declared"));
        let before = header[..at].trim_end();
        let line_start = before.rfind('\n').map_or(0, |n| n + 1);
        let above = header[..line_start].trim_end();
        assert!(above.ends_with("*/"), "{name} has no comment above it");
    }
}

#[test]
fn the_c_program_calls_every_declared_function() {
    let header = called_or_declared(&strip_c_comments(&read("include/interlink.h")));
    let program = called_or_declared(&strip_c_comments(&read("tests/programs/peer.c")));
    let missing: Vec<_> = header.difference(&program).collect();
    assert!(missing.is_empty(), "peer.c does not call {missing:?}");
}

#[test]
fn the_header_codes_are_the_library_codes() {
    let header = strip_c_comments(&read("include/interlink.h"));
    let codes = enum_values(&header, "interlink_error");
    let library: Vec<(String, i32)> = interlink_c::error::CODES
        .iter()
        .map(|&(n, v)| (n.to_owned(), v))
        .collect();
    assert_eq!(codes, library);
    let roles = enum_values(&header, "interlink_role");
    assert_eq!(
        roles,
        vec![
            ("INTERLINK_SENDER".to_owned(), interlink_c::ROLE_SENDER),
            ("INTERLINK_RECEIVER".to_owned(), interlink_c::ROLE_RECEIVER),
        ]
    );
    // Every code has its own description.
    let texts: BTreeSet<_> = interlink_c::error::CODES
        .iter()
        .map(|&(_, v)| {
            // SAFETY: interlink_strerror returns a static NUL-terminated string.
            unsafe { std::ffi::CStr::from_ptr(interlink_c::interlink_strerror(v)) }
        })
        .collect();
    assert_eq!(texts.len(), interlink_c::error::CODES.len());
}
