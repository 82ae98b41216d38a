//! `ipcs`/`ipcrm` for interlink objects under /dev/shm.
//!
//! ```text
//! interlink-inspect ls [--all]         list interlink objects, then System V segments and
//!                                      queues interlink created (--all: foreign ones too)
//! interlink-inspect inspect NAME       one header in detail, kinds and states by name;
//!                                      exit 1 if corrupt
//! interlink-inspect rm [--force] NAME  remove an object nobody uses (--force: even one in
//!                                      use, foreign, or of another layout version)
//! interlink-inspect gc [--sysv|PREFIX] remove objects whose creator and holders are dead
//!                                      (only names starting with PREFIX, if given; without
//!                                      one, stale System V objects interlink created too;
//!                                      --sysv: only those)
//! ```
//!
//! Objects are mapped read-only and their headers validated, never trusted;
//! the logic lives in `interlink_linux::inspect`. Exit status: 0 done, 1
//! corruption found (`inspect`) or a removal failed (`gc`), 2 the request
//! could not be carried out (no such object, refused, a bad command line).

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use interlink_core::layout::{state, Kind, LAYOUT_VERSION, MAGIC};
use interlink_linux::inspect::{self, Object, Pid, State, SysvObject};
use interlink_linux::shm;
use interlink_linux::sysv::{self, SysvKind};

/// Lists, inspects and removes interlink objects under /dev/shm. Without a
/// command, lists them (ls).
#[derive(Parser)]
#[command(
    name = "interlink-inspect",
    after_help = "Exit status: 0 done; 1 corruption found (inspect) or a removal failed (gc); \
                  2 the request could not be carried out."
)]
struct Args {
    /// What to do (default: ls).
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// List interlink objects: kind, element, capacity, fill, creator,
    /// roles, and whether they are live or stale; then the System V
    /// segments and queues interlink created, as ipcs lists them.
    Ls {
        /// Also list objects (and System V ones) that are not interlink's.
        #[arg(long)]
        all: bool,
    },
    /// Show one object's header in detail; exit 1 if it is corrupt.
    Inspect {
        /// The object's name (`/NAME` or `NAME`).
        name: String,
    },
    /// Remove an object. Refuses one that is in use (a live creator or
    /// role holder), one that is not interlink's, and one this build cannot
    /// read, unless --force.
    Rm {
        /// Remove it even if it is in use, foreign, or of another layout
        /// version. Processes that have it mapped keep using it.
        #[arg(long)]
        force: bool,
        /// The object's name (`/NAME` or `NAME`).
        name: String,
    },
    /// Remove every stale object: creator and every holder dead, or
    /// abandoned while being created; without PREFIX, also System V
    /// segments (no attachment) and queues (last sender and receiver dead)
    /// that interlink created and whose creator is dead. Says what it removed.
    Gc {
        /// Only System V objects (no /dev/shm object is touched).
        #[arg(long, conflicts_with = "prefix")]
        sysv: bool,
        /// Only names starting with this (`/PREFIX` or `PREFIX`).
        prefix: Option<String>,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = match args.command.unwrap_or(Command::Ls { all: false }) {
        Command::Ls { all } => ls(all),
        Command::Inspect { name } => inspect_one(&name),
        Command::Rm { force, name } => rm(&name, force),
        Command::Gc { sysv, prefix } => gc(prefix.as_deref(), sysv),
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
    let mut shown = 0;
    for (name, probed) in inspect::list().map_err(|e| e.to_string())? {
        match probed {
            Ok(object) if all || object.is_interlink() => println!("{}", row(&object)),
            Ok(_) => continue,
            Err(e) => println!("{name:<32} {e}"),
        }
        shown += 1;
    }
    if shown == 0 {
        eprintln!(
            "interlink-inspect: no {}objects under {}",
            if all { "" } else { "interlink " },
            shm::SHM_DIR
        );
    }
    ls_sysv(all)?;
    Ok(ExitCode::SUCCESS)
}

/// The System V table: `ipcs`'s columns, the creator's liveness, and
/// whether interlink created the object and `gc` would remove it.
fn ls_sysv(all: bool) -> Result<(), String> {
    let objects: Vec<SysvObject> = inspect::sysv_list()
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|o| all || o.interlink)
        .collect();
    if objects.is_empty() {
        return Ok(());
    }
    println!();
    println!(
        "{:<8} {:<10} {:>10} {:<10} {:>5} {:>10} {:>6} {:>6} {:<14} STATUS",
        "SYSV", "KEY", "ID", "OWNER", "MODE", "BYTES", "ATTACH", "MSGS", "CREATOR"
    );
    for o in objects {
        let kind = match o.kind {
            SysvKind::Segment => "segment",
            SysvKind::Queue => "queue",
        };
        let (attach, msgs) = match o.kind {
            SysvKind::Segment => (o.attaches.to_string(), "-".to_owned()),
            SysvKind::Queue => ("-".to_owned(), o.messages.to_string()),
        };
        let status = match (o.interlink, o.is_stale()) {
            (false, _) => "foreign",
            (true, true) => "interlink, stale",
            (true, false) => "interlink, live",
        };
        let removed = if o.mode & sysv::SHM_DEST != 0 && o.kind == SysvKind::Segment {
            ", removed at last detach"
        } else {
            ""
        };
        println!(
            "{:<8} {:<10} {:>10} {:<10} {:>5} {:>10} {:>6} {:>6} {:<14} {status}{removed}",
            kind,
            format!("{:#010x}", o.key.raw() as u32),
            o.id,
            o.owner,
            format!("{:o}", o.mode & 0o777),
            o.bytes,
            attach,
            msgs,
            pid_text(o.creator),
        );
    }
    Ok(())
}

fn row(o: &Object) -> String {
    let status = if o.is_stale() { "stale" } else { "live" };
    match &o.state {
        State::Valid(s) => {
            // A fan-out ring's subscribers are shown with their lag.
            let fanout = !s.subscribers.is_empty();
            let mut roles: Vec<String> = s
                .roles
                .iter()
                .filter(|r| !(fanout && r.role == "subscriber"))
                .map(|r| format!("{}={}", r.role, r.holder))
                .collect();
            roles.extend(s.subscribers.iter().map(|x| {
                let lag = x.lag.map_or("?".to_owned(), |l| l.to_string());
                format!("sub{}={}/lag={lag}", x.index, x.holder)
            }));
            if s.unrecorded_users {
                roles.push("users=overflow".to_owned());
            }
            if let Some(n) = s.skipped {
                roles.push(format!("skipped={n}"));
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
        let magic = if h.magic == MAGIC { " (interlink)" } else { "" };
        println!("magic:     {:#010x}{magic}", h.magic);
        let version = if h.version == LAYOUT_VERSION {
            "this build's".to_owned()
        } else {
            format!("this build reads {LAYOUT_VERSION}")
        };
        println!("version:   {} ({version})", h.version);
        println!("kind:      {}", kind_text(h.kind));
        println!("state:     {}", state_text(h.state));
        println!(
            "element:   {} bytes, align {}, type id {:#x}",
            h.element.size, h.element.align, h.element.type_id
        );
        println!("capacity:  {}", h.capacity);
        println!("total len: {} bytes", h.total_len);
        println!("creator:   {}", pid_text(Pid::check(h.creator_pid)));
    }
    let mut corrupt = false;
    match &o.state {
        State::Valid(s) => {
            let fanout = !s.subscribers.is_empty();
            for r in s
                .roles
                .iter()
                .filter(|r| !(fanout && r.role == "subscriber"))
            {
                println!("{:<10} {}", format!("{}:", r.role), pid_text(r.holder));
            }
            for x in &s.subscribers {
                let lag = x.lag.map_or("? (cursor out of range)".to_owned(), |l| {
                    format!("{l} of {}", s.header.capacity)
                });
                println!(
                    "{:<10} {}, lag {lag}",
                    format!("sub {}:", x.index),
                    pid_text(x.holder)
                );
            }
            if s.unrecorded_users {
                println!("users:     more than the table records (never stale; rm by name)");
            }
            if let Some(fill) = s.fill {
                println!("fill:      {fill} of {}", s.header.capacity);
            }
            if let Some(skipped) = s.skipped {
                println!("skipped:   {skipped} records (producers that died mid-record)");
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
    match (o.is_stale(), in_use(&o)) {
        (true, _) => println!("stale:     yes (gc removes it)"),
        (false, Some(why)) => println!("stale:     no ({why})"),
        (false, None) => println!("stale:     no"),
    }
    Ok(if corrupt {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn rm(name: &str, force: bool) -> Result<ExitCode, String> {
    let name = shm_name(name);
    let o = inspect::probe(&name).map_err(|e| e.to_string())?;
    if !force {
        if !o.is_interlink() {
            return Err(format!(
                "{name} is {}; use rm --force to remove it anyway",
                o.state
            ));
        }
        if let State::OtherVersion { version } = o.state {
            return Err(format!(
                "{name} has layout version {version} (this build reads {LAYOUT_VERSION}) and \
                 cannot tell whether it is in use; use rm --force to remove it anyway"
            ));
        }
        if let Some(why) = in_use(&o) {
            return Err(format!(
                "{name} is in use ({why}); stop its users first, or use rm --force to remove \
                 the name anyway (processes that have it mapped keep using it)"
            ));
        }
    }
    shm::unlink(&name).map_err(|e| e.to_string())?;
    println!("removed {name}");
    Ok(ExitCode::SUCCESS)
}

/// Why `o` counts as in use, if it does: a live creator or role holder
/// (pids are reused, so a live pid may be another process; `--force`
/// overrides), users the object could not record, or a creation still in
/// progress.
fn in_use(o: &Object) -> Option<String> {
    let live = |role: &str, pid: Pid| {
        pid.alive
            .then(|| format!("{role} pid {} is alive", pid.pid))
    };
    match &o.state {
        State::Valid(s) => {
            let mut why: Vec<String> = std::iter::once(live("creator", s.creator))
                .chain(s.roles.iter().map(|r| live(r.role, r.holder)))
                .flatten()
                .collect();
            if s.unrecorded_users {
                why.push("it has more users than it can record".to_owned());
            }
            (!why.is_empty()).then(|| why.join(", "))
        }
        State::Corrupt {
            header: Some(h), ..
        } => live("recorded creator", Pid::check(h.creator_pid)),
        State::Incomplete { .. } | State::Unfinished { .. } if !o.is_stale() => {
            Some("a creator may still be initialising it".to_owned())
        }
        _ => None,
    }
}

/// A pid and whether it is alive, for people.
fn pid_text(pid: Pid) -> String {
    match (pid.pid, pid.alive) {
        (0, _) => "- (none)".to_owned(),
        (p, true) => format!("{p} (alive)"),
        (p, false) => format!("{p} (dead)"),
    }
}

/// A raw kind word, named.
fn kind_text(word: u32) -> String {
    match Kind::from_u32(word) {
        Some(kind) => {
            let what = match kind {
                Kind::Spsc => "single-producer single-consumer ring",
                Kind::Mpmc => "multi-producer multi-consumer ring",
                Kind::Bytes => "framed byte ring",
                Kind::Mutex => "mutex",
                Kind::Semaphore => "semaphore",
                Kind::Condvar => "condition variable",
                Kind::Event => "event",
                Kind::Pool => "shared block pool",
                Kind::ManyToOne => "many-to-one byte ring",
                Kind::Broadcast => "broadcast ring (one writer, lossy readers)",
                Kind::Latest => "table of latest-value cells",
                Kind::Fanout => "fan-out ring (one writer, lossless subscribers)",
            };
            format!("{} ({what}, kind word {word})", kind.name())
        }
        None => format!("unknown (kind word {word})"),
    }
}

/// A raw initialisation-state word, named.
fn state_text(word: u32) -> String {
    let name = match word {
        state::UNINIT => "uninitialised (fresh memory, nobody started, ",
        state::INITIALISING => "initialising (a creator is writing it, ",
        state::READY => "ready (initialised and published, ",
        _ => "unknown (",
    };
    format!("{name}state word {word})")
}

fn gc(prefix: Option<&str>, sysv_only: bool) -> Result<ExitCode, String> {
    let prefix = prefix.map(shm_name);
    let selected = prefix.as_deref().unwrap_or("/");
    let mut failed = false;
    let collected = match sysv_only {
        true => Vec::new(),
        false => inspect::gc(|name| name.starts_with(selected)).map_err(|e| e.to_string())?,
    };
    // System V objects have no names: a prefix selects none of them.
    let sysv_collected = match prefix {
        Some(_) => Vec::new(),
        None => inspect::sysv_gc(|_| true).map_err(|e| e.to_string())?,
    };
    if collected.is_empty() && sysv_collected.is_empty() {
        match &prefix {
            Some(p) => println!("nothing to remove: no stale object whose name starts with {p}"),
            None => println!("nothing to remove: no stale object"),
        }
    }
    for (object, removed) in collected {
        match removed {
            Ok(()) => println!("removed {} ({})", object.name, object.state),
            Err(e) => {
                println!("could not remove {}: {e}", object.name);
                failed = true;
            }
        }
    }
    for (object, removed) in sysv_collected {
        match removed {
            Ok(()) => println!(
                "removed System V {object} (creator {} dead, unused)",
                object.creator.pid
            ),
            Err(e) => {
                println!("could not remove System V {object}: {e}");
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
