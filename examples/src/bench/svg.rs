//! The report as an SVG chart: round-trip latency and streaming bandwidth,
//! one horizontal bar per mechanism, on log scales (the mechanisms differ
//! by orders of magnitude).

use std::fmt::Write;

use super::report::{size_label, time_label, Report};

const ROW: f64 = 22.0;
const LABEL: f64 = 150.0;
const BAR: f64 = 300.0;
const PANEL: f64 = LABEL + BAR + 90.0;

/// One panel's bars: (name, value, label); `None` values are left blank.
fn panel(
    out: &mut String,
    x0: f64,
    title: &str,
    bars: &[(&str, Option<f64>, String)],
    colour: &str,
) {
    let values: Vec<f64> = bars
        .iter()
        .filter_map(|b| b.1)
        .filter(|v| *v > 0.0)
        .collect();
    let (lo, hi) = values
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    // Decades spanning all values, so bars compare by ratio.
    let (lo, hi) = if values.is_empty() {
        (1.0, 10.0)
    } else {
        (
            10f64.powf(lo.log10().floor()),
            10f64.powf(hi.log10().ceil()),
        )
    };
    let hi = if hi <= lo { lo * 10.0 } else { hi };
    let scale = |v: f64| (v.log10() - lo.log10()) / (hi.log10() - lo.log10()) * BAR;
    let _ = writeln!(
        out,
        r#"<text x="{x0}" y="20" font-weight="bold">{title}</text>"#
    );
    for (i, (name, value, label)) in bars.iter().enumerate() {
        let y = 36.0 + i as f64 * ROW;
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{name}</text>"#,
            x0 + LABEL - 8.0,
            y + 14.0
        );
        if let Some(v) = value.filter(|v| *v > 0.0) {
            // A bar at least 2 px wide, so the smallest value stays visible.
            let w = scale(v).max(2.0);
            let _ = writeln!(
                out,
                r#"<rect x="{:.1}" y="{y:.1}" width="{w:.1}" height="{:.1}" fill="{colour}"/><text x="{:.1}" y="{:.1}">{label}</text>"#,
                x0 + LABEL,
                ROW - 6.0,
                x0 + LABEL + w + 4.0,
                y + 14.0
            );
        } else {
            let _ = writeln!(
                out,
                r##"<text x="{:.1}" y="{:.1}" fill="#888">n/a</text>"##,
                x0 + LABEL + 4.0,
                y + 14.0
            );
        }
    }
    let _ = writeln!(
        out,
        r##"<text x="{:.1}" y="{:.1}" fill="#666" font-size="10">log scale, {} … {}</text>"##,
        x0 + LABEL,
        40.0 + bars.len() as f64 * ROW,
        axis_label(lo, title),
        axis_label(hi, title)
    );
}

fn axis_label(v: f64, title: &str) -> String {
    if title.starts_with("Round") {
        time_label(v)
    } else {
        format!("{v} GB/s")
    }
}

/// Renders the chart: round-trip p50, and streaming bandwidth at the
/// largest measured size.
pub fn render(report: &Report) -> String {
    let rows = &report.rows;
    let height = 60.0 + rows.len() as f64 * ROW;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{:.0}" height="{height:.0}" font-family="sans-serif" font-size="12">"#,
        2.0 * PANEL + 20.0
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let latency: Vec<(&str, Option<f64>, String)> = rows
        .iter()
        .map(|r| {
            let ns = r.round_trip.map(|t| t.latency.p50.as_nanos() as f64);
            (r.mechanism, ns, ns.map(time_label).unwrap_or_default())
        })
        .collect();
    panel(
        &mut out,
        10.0,
        &format!(
            "Round trip, p50 ({}) — shorter is better",
            size_label(report.ping_size)
        ),
        &latency,
        "#4477aa",
    );
    if let Some(last) = report.sizes.len().checked_sub(1) {
        let bandwidth: Vec<(&str, Option<f64>, String)> = rows
            .iter()
            .map(|r| {
                let gb = r
                    .streams
                    .get(last)
                    .copied()
                    .flatten()
                    .map(|t| t.bytes_per_s / 1e9);
                (
                    r.mechanism,
                    gb,
                    gb.map(|g| format!("{g:.2} GB/s")).unwrap_or_default(),
                )
            })
            .collect();
        let title = format!(
            "Streaming {} messages — longer is better",
            size_label(report.sizes[last])
        );
        panel(&mut out, PANEL + 10.0, &title, &bandwidth, "#228833");
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::report::{RoundTrip, Row, Throughput};
    use crate::bench::stats::Latency;
    use std::time::Duration;

    #[test]
    fn one_bar_per_measured_value() {
        let lat = |ns| {
            let d = Duration::from_nanos(ns);
            Some(RoundTrip {
                latency: Latency {
                    p50: d,
                    p99: d,
                    p999: d,
                    max: d,
                    mean_one_way: d / 2,
                },
                vs_floor: None,
                cpu_per_message: d,
            })
        };
        let report = Report {
            ping_size: 64,
            sizes: vec![65536],
            rows: vec![
                Row {
                    mechanism: "floor",
                    round_trip: lat(100),
                    streams: vec![None],
                },
                Row {
                    mechanism: "pipe",
                    round_trip: lat(12_000),
                    streams: vec![Some(Throughput {
                        msgs_per_s: 3e4,
                        bytes_per_s: 2e9,
                    })],
                },
            ],
        };
        let svg = render(&report);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert_eq!(svg.matches("<rect x=").count(), 3);
        assert_eq!(svg.matches(">n/a<").count(), 1);
        assert!(svg.contains("12.0 µs") && svg.contains("2.00 GB/s"));
    }
}
