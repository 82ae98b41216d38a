//! What every example program does the same way at its edges: errors
//! printed for people, exit codes that tell the truth, and the one line a
//! program prints before a wait that may take seconds.
//!
//! Command lines are parsed by `clap` (derive): `--help` lists every
//! argument and option, unknown or extra arguments are refused with exit
//! code 2, and numbers are range-checked before anything runs.

use std::error::Error;
use std::process::ExitCode;
use std::time::Duration;

/// The result every program body returns.
pub type Result<T = ()> = std::result::Result<T, Box<dyn Error>>;

/// Runs a program's body and turns its result into the exit status: 0 on
/// success; on an error, `PROGRAM: ERROR` on stderr (the error's
/// `Display`, then each `source` after a colon) and status 1.
pub fn run(program: &str, body: impl FnOnce() -> Result) -> ExitCode {
    match body() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{program}: {}", describe(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}

/// An error and its sources, for people: `outer: inner: innermost`.
pub fn describe(e: &dyn Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        // Some errors repeat their source in their own message.
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

/// How a child process ended, for people: `exited with status 1`,
/// `was killed by signal 9 (SIGKILL)`.
pub fn exit_text(exit: interlink_linux::process::Exit) -> String {
    use interlink_linux::process::Exit;
    match exit {
        Exit::Code(code) => format!("exited with status {code}"),
        Exit::Signal(signal) => {
            let name = match signal {
                libc::SIGKILL => " (SIGKILL)",
                libc::SIGTERM => " (SIGTERM)",
                libc::SIGINT => " (SIGINT)",
                libc::SIGSEGV => " (SIGSEGV)",
                libc::SIGABRT => " (SIGABRT)",
                libc::SIGALRM => " (SIGALRM)",
                libc::SIGBUS => " (SIGBUS)",
                libc::SIGPIPE => " (SIGPIPE)",
                _ => "",
            };
            format!("was killed by signal {signal}{name}")
        }
    }
}

/// Says on stderr, in one line, what the program now waits for and for how
/// long at most: `PROGRAM: waiting for WHAT (up to 10 s)`.
pub fn waiting(program: &str, what: &str, limit: Option<Duration>) {
    match limit {
        Some(limit) => eprintln!("{program}: waiting for {what} (up to {})", seconds(limit)),
        None => eprintln!("{program}: waiting for {what}"),
    }
}

/// `10 s`, `1.5 s`, `0.25 s`: a duration as people write it.
pub fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0} s")
    } else {
        format!("{} s", format!("{s:.3}").trim_end_matches('0'))
    }
}

/// Parses a whole number of at least 1, for clap's `value_parser`.
pub fn positive(text: &str) -> std::result::Result<u64, String> {
    match text.parse::<u64>() {
        Ok(0) => Err("0 is not allowed: give at least 1".to_owned()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("{text:?} is not a whole number: {e}")),
    }
}

/// Parses a positive number of seconds (`10`, `0.5`) of at most a day, for
/// clap's `value_parser`.
pub fn parse_seconds(text: &str) -> std::result::Result<Duration, String> {
    let s: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if !(s > 0.0 && s <= 86_400.0) {
        return Err(format!(
            "{text} s is out of range: give more than 0 and at most 86400 seconds"
        ));
    }
    Ok(Duration::from_secs_f64(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_written_as_people_write_them() {
        assert_eq!(seconds(Duration::from_secs(10)), "10 s");
        assert_eq!(seconds(Duration::from_millis(1500)), "1.5 s");
        assert_eq!(seconds(Duration::from_millis(250)), "0.25 s");
    }

    #[test]
    fn positive_refuses_zero_and_words() {
        assert_eq!(positive("7"), Ok(7));
        assert!(positive("0").unwrap_err().contains("at least 1"));
        assert!(positive("-1").is_err() && positive("x").is_err());
    }

    #[test]
    fn seconds_must_be_positive_and_finite() {
        assert_eq!(parse_seconds("0.5"), Ok(Duration::from_millis(500)));
        for bad in ["0", "-1", "nan", "inf", "1e9", "ten"] {
            assert!(parse_seconds(bad).is_err(), "{bad}");
        }
    }
}
