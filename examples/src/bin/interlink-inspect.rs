//! `ipcs`/`ipcrm` for interlink objects under /dev/shm.
//!
//! ```text
//! interlink-inspect ls [--all]       list interlink objects (--all: foreign ones too)
//! interlink-inspect inspect NAME     one header in detail; exit 1 if corrupt
//! interlink-inspect rm [--force] NAME  remove an object (--force: even a foreign one)
//! interlink-inspect gc [PREFIX]      remove objects whose creator and holders are dead
//!                                    (only names starting with PREFIX, if given)
//! ```
//!
//! Objects are mapped read-only and their headers validated, never trusted;
//! the logic lives in `interlink_linux::inspect`.

use std::process::ExitCode;

use interlink_linux::inspect::{self, Object, State};
use interlink_linux::shm;

const USAGE: &str =
    "usage: interlink-inspect ls [--all] | inspect NAME | rm [--force] NAME | gc [PREFIX]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        [] | ["ls"] => ls(false),
        ["ls", "--all"] => ls(true),
        ["inspect", name] => inspect_one(name),
        ["rm", name] => rm(name, false),
        ["rm", "--force", name] => rm(name, true),
        ["gc"] => gc("/"),
        ["gc", prefix] => gc(&shm_name(prefix)),
        _ => Err(USAGE.to_owned()),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("interlink-inspect: {message}");
            ExitCode::from(2)
        }
    }
}

/// `/name` from `name` or `/name`.
fn shm_name(name: &str) -> String {
    if name.starts_with('/') {
        name.to_owned()
    } else {
        format!("/{name}")
    }
}

fn ls(all: bool) -> Result<ExitCode, String> {
    println!(
        "{:<32} {:<6} {:>9} {:>10} {:>10} {:<9} {:<28} STATUS",
        "NAME", "KIND", "ELEM", "CAPACITY", "FILL", "CREATOR", "ROLES"
    );
    for (name, probed) in inspect::list().map_err(|e| e.to_string())? {
        match probed {
            Ok(object) if all || object.is_interlink() => println!("{}", row(&object)),
            Ok(_) => {}
            Err(e) => println!("{name:<32} {e}"),
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn row(o: &Object) -> String {
    let status = if o.is_stale() { "stale" } else { "live" };
    match &o.state {
        State::Valid(s) => {
            let mut roles: Vec<String> = s
                .roles
                .iter()
                .map(|r| format!("{}={}", r.role, r.holder))
                .collect();
            if s.unrecorded_users {
                roles.push("users=overflow".to_owned());
            }
            let fill = s.fill.map_or("?".to_owned(), |f| f.to_string());
            let status = if s.problems.is_empty() {
                status.to_owned()
            } else {
                format!("{status}, corrupt: {}", s.problems.join("; "))
            };
            format!(
                "{:<32} {:<6} {:>9} {:>10} {:>10} {:<9} {:<28} {}",
                o.name,
                s.kind.name(),
                format!("{}/{}", s.header.element.size, s.header.element.align),
                s.header.capacity,
                fill,
                s.creator.to_string(),
                roles.join(" "),
                status
            )
        }
        other => format!(
            "{:<32} {:<6} {:>9} {:>10} {:>10} {:<9} {:<28} {other}{}",
            o.name,
            "-",
            "-",
            "-",
            "-",
            "-",
            "-",
            if o.is_stale() { " (stale)" } else { "" }
        ),
    }
}

fn inspect_one(name: &str) -> Result<ExitCode, String> {
    let name = shm_name(name);
    let o = inspect::probe(&name).map_err(|e| e.to_string())?;
    println!("name:      {}", o.name);
    println!("size:      {} bytes", o.size);
    if let Some(age) = o.age {
        println!("modified:  {:.1} s ago", age.as_secs_f64());
    }
    let header = match &o.state {
        State::Valid(s) => Some(s.header),
        State::Corrupt { header, .. } => *header,
        _ => None,
    };
    if let Some(h) = header {
        println!("magic:     {:#010x}", h.magic);
        println!("version:   {}", h.version);
        println!("kind:      {}", h.kind);
        println!("state:     {}", h.state);
        println!(
            "element:   size {} align {} type id {:#x}",
            h.element.size, h.element.align, h.element.type_id
        );
        println!("capacity:  {}", h.capacity);
        println!("total len: {}", h.total_len);
        println!("creator:   {}", inspect::Pid::check(h.creator_pid));
    }
    let mut corrupt = false;
    match &o.state {
        State::Valid(s) => {
            for r in &s.roles {
                println!("{:<10} {}", format!("{}:", r.role), r.holder);
            }
            if s.unrecorded_users {
                println!("users:     more than the table records (never stale; rm by name)");
            }
            if let Some(fill) = s.fill {
                println!("fill:      {fill} of {}", s.header.capacity);
            }
            for p in &s.problems {
                println!("CORRUPT:   {p}");
                corrupt = true;
            }
            println!("verdict:   {}", o.state);
        }
        State::Corrupt { problem, .. } => {
            println!("CORRUPT:   {problem}");
            corrupt = true;
        }
        other => println!("verdict:   {other}"),
    }
    println!("stale:     {}", if o.is_stale() { "yes" } else { "no" });
    Ok(if corrupt {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn rm(name: &str, force: bool) -> Result<ExitCode, String> {
    let name = shm_name(name);
    let o = inspect::probe(&name).map_err(|e| e.to_string())?;
    if !o.is_interlink() && !force {
        return Err(format!(
            "{name} is {}; use rm --force to remove it anyway",
            o.state
        ));
    }
    shm::unlink(&name).map_err(|e| e.to_string())?;
    println!("removed {name}");
    Ok(ExitCode::SUCCESS)
}

fn gc(prefix: &str) -> Result<ExitCode, String> {
    let mut failed = false;
    let collected = inspect::gc(|name| name.starts_with(prefix)).map_err(|e| e.to_string())?;
    for (object, removed) in collected {
        match removed {
            Ok(()) => println!("removed {} ({})", object.name, object.state),
            Err(e) => {
                println!("could not remove {}: {e}", object.name);
                failed = true;
            }
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
