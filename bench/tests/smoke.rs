//! The benchmark's smoke test: a few seconds with tiny counts, checking only that every figure
//! was produced for both servers. It asserts nothing about timing.

use std::path::PathBuf;
use std::process::Command;

/// The rows a quick run must print, each with a number for visavis, the baseline and the ratio.
const FIGURES: &[&str] = &[
    "relay 2 rooms: messages/s",
    "relay 2 rooms: latency p50",
    "relay 2 rooms: latency p99",
    "relay 2 rooms: latency p99.9",
    "relay 2 rooms: server CPU per message",
    "relay 5 rooms: messages/s",
    "relay 5 rooms: server CPU per message",
    "memory per idle socket, 50 open",
    "memory per idle socket, 100 open",
    "joins: rooms created and joined per second",
    "joins: server CPU per room",
];

/// The `visavis` binary of the same profile, built here if this test runs on its own.
fn visavis_binary() -> PathBuf {
    let bench = PathBuf::from(env!("CARGO_BIN_EXE_visavis-bench"));
    let path = bench.with_file_name("visavis");
    if !path.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "-p", "visavis", "--bin", "visavis"])
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building visavis failed");
    }
    path
}

#[test]
fn a_quick_run_prints_every_figure_for_both_servers() {
    let output = Command::new(env!("CARGO_BIN_EXE_visavis-bench"))
        .arg("--quick")
        .arg("--server")
        .arg(visavis_binary())
        .output()
        .expect("the bench runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the bench failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    for name in FIGURES {
        let row = stdout
            .lines()
            .find(|line| line.starts_with(&format!("| {name} |")))
            .unwrap_or_else(|| panic!("no row {name:?} in:\n{stdout}"));
        let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
        // name | unit | visavis | baseline | ratio
        assert_eq!(cells.len(), 5, "{row}");
        for cell in &cells[2..4] {
            let value: f64 = cell
                .parse()
                .unwrap_or_else(|_| panic!("not a number in {row}"));
            assert!(value.is_finite(), "{row}");
        }
        // A ratio, or n/a when both CPU times are below the kernel's 10 ms resolution.
        let ratio = cells[4].trim_end_matches('x');
        assert!(
            ratio == "n/a" || ratio.parse::<f64>().is_ok_and(f64::is_finite),
            "no ratio in {row}"
        );
    }
    for target in [
        "CPU per relayed message",
        "relay p99",
        "memory per idle socket",
    ] {
        assert!(
            stdout.contains(target),
            "no target line for {target}:\n{stdout}"
        );
    }
}

#[test]
fn a_quick_cluster_run_prints_cross_node_figures_beside_single_node() {
    let output = Command::new(env!("CARGO_BIN_EXE_visavis-bench"))
        .args(["--quick", "--cluster", "--server"])
        .arg(visavis_binary())
        .output()
        .expect("the bench runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the cluster bench failed (it needs redis-server): {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    for rooms in [2, 5] {
        for figure in [
            "messages/s",
            "latency p50",
            "latency p99",
            "server CPU per message",
        ] {
            let name = format!("| cluster relay {rooms} rooms: {figure} |");
            let row = stdout
                .lines()
                .find(|line| line.starts_with(&name))
                .unwrap_or_else(|| panic!("no row {name:?} in:\n{stdout}"));
            let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
            // name | unit | cross-node | single node | ratio
            assert_eq!(cells.len(), 5, "{row}");
            for cell in &cells[2..4] {
                let value: f64 = cell
                    .parse()
                    .unwrap_or_else(|_| panic!("not a number in {row}"));
                assert!(value.is_finite(), "{row}");
            }
        }
    }
}
