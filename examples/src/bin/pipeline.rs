//! `ls DIR | wc -l`, rebuilt the way a shell does it: one pipe, two forks,
//! `dup2` to put the pipe's ends on the children's stdout and stdin, and
//! `exec` to become `ls` and `wc`.
//!
//! ```text
//! cargo run -p interlink-examples --bin pipeline -- [DIR]
//! ```
//!
//! It prints what `ls DIR | wc -l` prints. (The shim's
//! `pipe::spawn_pipeline` does the same job through `std::process::Command`,
//! which hides the `dup2`; this example spells the trick out with the shim's
//! pipe and fork plus `libc::dup2` and `libc::execvp`, which the shim
//! deliberately does not wrap: after `exec` nothing of the program is left
//! to own anything.)

use std::ffi::CString;
use std::os::fd::AsRawFd;
use std::process::ExitCode;

use clap::Parser;
use interlink_examples::cli;

use interlink_linux::pipe::{self, IoMode};
use interlink_linux::process::{fork, Exit};

/// Puts `fd` on `target` (0 = stdin, 1 = stdout) and replaces this process
/// with `argv[0]`; returns only if that failed, with the shell's 127.
fn dup_and_exec(fd: i32, target: i32, argv: &[CString]) -> i32 {
    // A NULL-terminated array of pointers into `argv`, as execvp wants.
    let mut ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    // SAFETY: dup2 takes two descriptor numbers and touches no memory.
    // The pipe was opened close-on-exec; the copy dup2 makes is not, so
    // exactly the copy survives the exec.
    if unsafe { libc::dup2(fd, target) } == -1 {
        return 126;
    }
    // SAFETY: every pointer in `ptrs` points into a live CString, and the
    // array ends with NULL. On success execvp does not return.
    unsafe { libc::execvp(ptrs[0], ptrs.as_ptr()) };
    127
}

const PROGRAM: &str = "pipeline";

/// Runs `ls DIR | wc -l` the way a shell does: a pipe, two forks, dup2 and
/// exec.
#[derive(Parser)]
#[command(name = PROGRAM)]
struct Args {
    /// The directory to list.
    #[arg(default_value = ".")]
    dir: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    cli::run(PROGRAM, || run(args.dir))
}

fn run(dir: String) -> cli::Result {
    // Build the argument strings before forking: the children only call
    // dup2 and exec.
    let ls = [
        CString::new("ls")?,
        CString::new(dir).map_err(|_| "DIR contains a NUL byte")?,
    ];
    let wc = [CString::new("wc")?, CString::new("-l")?];

    let (reader, writer) = pipe::pipe(IoMode::Blocking)?;
    let ls_child = fork(|| dup_and_exec(writer.as_raw_fd(), 1, &ls))?;
    let wc_child = fork(|| dup_and_exec(reader.as_raw_fd(), 0, &wc))?;
    // The shell's other half of the trick: the parent closes both ends.
    // While any process holds the write end, `wc` never sees end-of-file
    // and waits forever.
    drop((reader, writer));

    let (ls_exit, wc_exit) = (ls_child.wait()?, wc_child.wait()?);
    match (ls_exit, wc_exit) {
        (Exit::Code(0), Exit::Code(0)) => Ok(()),
        _ => Err(format!(
            "a command of the pipeline failed: ls {}, wc {} (126: dup2 failed, 127: not found)",
            cli::exit_text(ls_exit),
            cli::exit_text(wc_exit)
        )
        .into()),
    }
}
