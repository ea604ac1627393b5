//! The printed result: the machine, then one Markdown table row per figure with visavis, the
//! baseline and their ratio, then the targets checked against the ratios.

use crate::limits::FdLimit;
use crate::server::{describe, Binaries};

/// One measured figure for both servers.
#[derive(Debug, Clone)]
pub struct Figure {
    pub name: String,
    pub unit: &'static str,
    pub visavis: f64,
    pub baseline: f64,
}

impl Figure {
    /// visavis divided by the baseline.
    pub fn ratio(&self) -> f64 {
        self.visavis / self.baseline
    }
}

/// Everything one run printed.
pub struct Report {
    header: Vec<String>,
    figures: Vec<Figure>,
}

impl Report {
    /// Starts a report with the machine and binaries it ran on.
    pub fn new(binaries: &Binaries, fd_limit: &FdLimit) -> Report {
        let mut header = vec![
            format!("machine: {}", machine()),
            format!("visavis: {}", describe(&binaries.visavis)),
            format!("baseline: {}", describe(&binaries.baseline)),
            format!("open-file limit: {}", fd_limit.soft),
        ];
        if let Some(refused) = &fd_limit.refused {
            header.push(format!("note: {refused}"));
        }
        Report {
            header,
            figures: Vec::new(),
        }
    }

    /// Adds a figure.
    pub fn push(&mut self, figure: Figure) {
        self.figures.push(figure);
    }

    /// Prints the table and the targets.
    pub fn print(&self, command: &str) {
        println!("command: {command}");
        for line in &self.header {
            println!("{line}");
        }
        println!();
        println!("| figure | unit | visavis | baseline | ratio |");
        println!("|---|---|---:|---:|---:|");
        for figure in &self.figures {
            let ratio = figure.ratio();
            let ratio = if ratio.is_finite() {
                format!("{ratio:.2}x")
            } else {
                // Both zero: below the resolution of the kernel's CPU accounting (10 ms).
                "n/a".into()
            };
            println!(
                "| {} | {} | {} | {} | {ratio} |",
                figure.name,
                figure.unit,
                number(figure.visavis),
                number(figure.baseline),
            );
        }
        println!();
        println!("| target | figure | value | met |");
        println!("|---|---|---:|---|");
        for (target, figure, value, met) in self.targets() {
            println!(
                "| {target} | {figure} | {value} | {} |",
                if met { "yes" } else { "NO" }
            );
        }
    }

    /// The server targets, each checked on every figure it applies to.
    fn targets(&self) -> Vec<(&'static str, String, String, bool)> {
        let mut rows = Vec::new();
        for figure in &self.figures {
            let ratio = figure.ratio();
            let name = &figure.name;
            let check = if name.ends_with("server CPU per message") {
                Some(("CPU per relayed message <= 1.3x baseline", ratio <= 1.3))
            } else if name.ends_with("messages/s")
                && (name.starts_with("relay 20 rooms") || name.starts_with("relay 100 rooms"))
            {
                Some(("throughput (20, 100 rooms) >= 0.9x baseline", ratio >= 0.9))
            } else if name.ends_with("latency p99") {
                Some(("relay p99 <= 1.2x baseline", ratio <= 1.2))
            } else {
                None
            };
            if let Some((target, met)) = check {
                rows.push((target, name.clone(), format!("{ratio:.2}x"), met));
            }
            if name.starts_with("memory per idle socket") {
                rows.push((
                    "memory per idle socket <= 8 KiB",
                    name.clone(),
                    format!("{:.1} KiB", figure.visavis),
                    figure.visavis <= 8.0,
                ));
            }
        }
        rows
    }
}

/// A figure for the table: few digits, no false precision.
fn number(value: f64) -> String {
    if !value.is_finite() {
        "n/a".into()
    } else if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

/// The CPU model, core count and kernel.
fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .and_then(|rest| rest.split_once(':'))
        .map(|(_, model)| model.trim().to_owned())
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{model}, {cores} cores, Linux {}", kernel.trim())
}
