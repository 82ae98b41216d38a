//! The results as a terminal table, Markdown or CSV.

use std::fmt::Write;
use std::time::Duration;

use super::stats::Latency;

/// Messages and bytes per second of one streaming measurement.
#[derive(Clone, Copy, Debug)]
pub struct Throughput {
    /// Messages per second.
    pub msgs_per_s: f64,
    /// Payload bytes per second.
    pub bytes_per_s: f64,
}

/// A mechanism's ping-pong round trips.
#[derive(Clone, Copy, Debug)]
pub struct RoundTrip {
    /// Over every round.
    pub latency: Latency,
    /// The median over rounds of this p50 ÷ the cache-line floor's p50 of
    /// the same round (`None` without a floor in the run).
    pub vs_floor: Option<f64>,
    /// CPU time of both processes per message.
    pub cpu_per_message: Duration,
}

/// One mechanism's results. `None` where it cannot carry the size (or the
/// measurement was not selected).
#[derive(Clone, Debug)]
pub struct Row {
    /// The mechanism's name.
    pub mechanism: &'static str,
    /// Ping-pong round trips.
    pub round_trip: Option<RoundTrip>,
    /// Streaming, one entry per message size, in [`Report::sizes`] order.
    pub streams: Vec<Option<Throughput>>,
}

/// Everything one run measured.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Message size of the round trips, bytes.
    pub ping_size: usize,
    /// Streaming message sizes, bytes.
    pub sizes: Vec<usize>,
    /// One row per mechanism.
    pub rows: Vec<Row>,
}

/// Columns of a round trip after the name: p50, p99, p99.9, max, one-way
/// mean, × floor, CPU per message.
const ROUND_TRIP_COLUMNS: usize = 7;

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns for a terminal.
    Table,
    /// A GitHub-flavoured Markdown table.
    #[value(alias = "md")]
    Markdown,
    /// Comma-separated values, raw numbers.
    Csv,
}

/// `1536` → `"1.5 KiB"`; `64` → `"64 B"`.
pub fn size_label(bytes: usize) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} B"),
    }
}

/// `12_345.0` ns → `"12.3 µs"`.
pub fn time_label(ns: f64) -> String {
    // Thresholds just below each unit, so rounding never prints "1000.0 µs".
    if ns >= 999_500.0 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 999.5 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

fn rate_label(t: &Throughput) -> String {
    let msgs = if t.msgs_per_s >= 1e6 {
        format!("{:.2} M/s", t.msgs_per_s / 1e6)
    } else {
        format!("{:.0} k/s", t.msgs_per_s / 1e3)
    };
    let bytes = if t.bytes_per_s >= 1e9 {
        format!("{:.2} GB/s", t.bytes_per_s / 1e9)
    } else {
        format!("{:.0} MB/s", t.bytes_per_s / 1e6)
    };
    format!("{msgs} · {bytes}")
}

impl Report {
    fn header(&self) -> Vec<String> {
        let mut h = vec![
            "mechanism".to_string(),
            format!("round trip p50 ({})", size_label(self.ping_size)),
            "p99".to_string(),
            "p99.9".to_string(),
            "max".to_string(),
            "one-way mean".to_string(),
            "p50 × floor".to_string(),
            "CPU / msg".to_string(),
        ];
        h.extend(
            self.sizes
                .iter()
                .map(|s| format!("stream {}", size_label(*s))),
        );
        h
    }

    fn cells(&self, row: &Row) -> Vec<String> {
        let na = || "–".to_string();
        let mut c = vec![row.mechanism.to_string()];
        match row.round_trip {
            Some(r) => {
                let l = r.latency;
                c.extend(
                    [l.p50, l.p99, l.p999, l.max, l.mean_one_way]
                        .map(|d| time_label(d.as_nanos() as f64)),
                );
                c.push(r.vs_floor.map_or_else(na, |x| format!("{x:.2}")));
                c.push(time_label(r.cpu_per_message.as_nanos() as f64));
            }
            None => c.extend(std::iter::repeat_with(na).take(ROUND_TRIP_COLUMNS)),
        }
        c.extend(
            row.streams
                .iter()
                .map(|t| t.as_ref().map_or_else(na, rate_label)),
        );
        c
    }

    /// Renders the report.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Csv => self.csv(),
            Format::Table | Format::Markdown => {
                let header = self.header();
                let body: Vec<Vec<String>> = self.rows.iter().map(|r| self.cells(r)).collect();
                let widths: Vec<usize> = (0..header.len())
                    .map(|i| {
                        body.iter()
                            .map(|r| r[i].chars().count())
                            .chain([header[i].chars().count()])
                            .max()
                            .unwrap_or(0)
                    })
                    .collect();
                let line = |cells: &[String]| -> String {
                    let padded: Vec<String> = cells
                        .iter()
                        .zip(&widths)
                        .enumerate()
                        .map(|(i, (c, w))| {
                            let pad = w - c.chars().count();
                            if i == 0 {
                                format!("{c}{}", " ".repeat(pad))
                            } else {
                                format!("{}{c}", " ".repeat(pad))
                            }
                        })
                        .collect();
                    match format {
                        Format::Markdown => format!("| {} |\n", padded.join(" | ")),
                        _ => format!("{}\n", padded.join("  ")),
                    }
                };
                let mut out = line(&header);
                let rule: Vec<String> = widths
                    .iter()
                    .enumerate()
                    .map(|(i, w)| match (format, i) {
                        (Format::Markdown, 0) => "-".repeat(*w),
                        (Format::Markdown, _) => format!("{}:", "-".repeat(w - 1)),
                        _ => "─".repeat(*w),
                    })
                    .collect();
                out += &match format {
                    Format::Markdown => format!("| {} |\n", rule.join(" | ")),
                    _ => format!("{}\n", rule.join("  ")),
                };
                for r in &body {
                    out += &line(r);
                }
                out
            }
        }
    }

    fn csv(&self) -> String {
        let mut out = String::from(
            "mechanism,round_trip_p50_ns,round_trip_p99_ns,round_trip_p999_ns,\
             round_trip_max_ns,one_way_mean_ns,p50_vs_floor,cpu_per_msg_ns",
        );
        for s in &self.sizes {
            let _ = write!(out, ",stream_{s}B_msgs_per_s,stream_{s}B_bytes_per_s");
        }
        out.push('\n');
        for row in &self.rows {
            out += row.mechanism;
            match row.round_trip {
                Some(r) => {
                    let l = r.latency;
                    for d in [l.p50, l.p99, l.p999, l.max, l.mean_one_way] {
                        let _ = write!(out, ",{}", d.as_nanos());
                    }
                    match r.vs_floor {
                        Some(x) => {
                            let _ = write!(out, ",{x:.3}");
                        }
                        None => out += ",",
                    }
                    let _ = write!(out, ",{}", r.cpu_per_message.as_nanos());
                }
                None => out += &",".repeat(ROUND_TRIP_COLUMNS),
            }
            for t in &row.streams {
                match t {
                    Some(t) => {
                        let _ = write!(out, ",{:.0},{:.0}", t.msgs_per_s, t.bytes_per_s);
                    }
                    None => out += ",,",
                }
            }
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        Report {
            ping_size: 64,
            sizes: vec![64, 4096],
            rows: vec![
                Row {
                    mechanism: "pipe",
                    round_trip: Some(RoundTrip {
                        latency: Latency {
                            p50: Duration::from_nanos(12_600),
                            p99: Duration::from_nanos(20_000),
                            p999: Duration::from_nanos(31_000),
                            max: Duration::from_nanos(90_000),
                            mean_one_way: Duration::from_nanos(6_500),
                        },
                        vs_floor: Some(105.0),
                        cpu_per_message: Duration::from_nanos(4_000),
                    }),
                    streams: vec![
                        Some(Throughput {
                            msgs_per_s: 1.5e6,
                            bytes_per_s: 96e6,
                        }),
                        None,
                    ],
                },
                Row {
                    mechanism: "eventfd",
                    round_trip: None,
                    streams: vec![None, None],
                },
            ],
        }
    }

    #[test]
    fn formats_agree_on_content() {
        let r = report();
        let table = r.render(Format::Table);
        assert!(
            table.contains("12.6 µs") && table.contains("1.50 M/s · 96 MB/s"),
            "{table}"
        );
        // p99.9, max, one-way mean, × floor and CPU per message.
        assert!(
            ["31.0 µs", "90.0 µs", "6.5 µs", "105.00", "4.0 µs"]
                .iter()
                .all(|cell| table.contains(cell)),
            "{table}"
        );
        let md = r.render(Format::Markdown);
        assert!(
            md.lines().all(|l| l.starts_with('|') && l.ends_with('|')),
            "{md}"
        );
        assert_eq!(md.lines().count(), 4);
        let csv = r.render(Format::Csv);
        assert_eq!(
            csv.lines().nth(1),
            Some("pipe,12600,20000,31000,90000,6500,105.000,4000,1500000,96000000,,")
        );
        assert_eq!(csv.lines().nth(2), Some("eventfd,,,,,,,,,,,"));
    }

    #[test]
    fn labels() {
        assert_eq!(size_label(64), "64 B");
        assert_eq!(size_label(4096), "4 KiB");
        assert_eq!(size_label(1 << 20), "1 MiB");
        assert_eq!(time_label(95.0), "95 ns");
        assert_eq!(time_label(2_500_000.0), "2.50 ms");
        assert_eq!(time_label(999_999.5), "1.00 ms");
        assert_eq!(time_label(999.7), "1.0 µs");
    }
}
