//! The table and figure generators as a user runs them: a bad output directory is refused
//! before any training, a rerun resumes, and a grid run as shards and merged prints its table.

mod common;

use std::path::Path;
use std::process::{Command, Output};

fn run(example: &str, args: &[&str]) -> Output {
    Command::new(common::example(example))
        .args(args)
        .output()
        .expect("the example starts")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Figure 3 for ReLU alone, one epoch on 100 images.
const TINY_FIGURE: [&str; 14] = [
    "--figure",
    "3",
    "--activations",
    "relu",
    "--fig3-lrs",
    "1e-3",
    "--epochs",
    "1",
    "--seeds",
    "1",
    "--train-limit",
    "100",
    "--jobs",
    "1",
];

#[test]
fn figures_refuses_an_unusable_output_directory_before_training() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "not a directory").unwrap();
    let mut args = TINY_FIGURE.to_vec();
    args.extend(["--out", file.to_str().unwrap()]);
    let out = run("figures", &args);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("a-file"), "the error names the path: {said}");
    assert!(!said.contains("[1/1]"), "no run was made: {said}");
}

#[test]
fn figures_resumes_from_its_results_file() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("figs");
    let mut args = TINY_FIGURE.to_vec();
    args.extend(["--out", out_dir.to_str().unwrap()]);
    let first = run("figures", &args);
    assert!(first.status.success(), "{}", text(&first));
    assert!(text(&first).contains("[1/1]"), "{}", text(&first));
    let records = |dir: &Path| std::fs::read_to_string(dir.join("results.jsonl")).unwrap();
    assert_eq!(records(&out_dir).lines().count(), 2);
    let csv = std::fs::read_to_string(out_dir.join("figure3.csv")).unwrap();

    let second = run("figures", &args);
    let said = text(&second);
    assert!(second.status.success(), "{said}");
    assert!(said.contains("1 already done"), "{said}");
    assert!(
        !said.contains("[1/1]"),
        "the run was not made again: {said}"
    );
    assert_eq!(records(&out_dir).lines().count(), 2);
    assert_eq!(
        std::fs::read_to_string(out_dir.join("figure3.csv")).unwrap(),
        csv
    );

    // Other settings for the same directory are refused before training.
    let mut other = args.clone();
    other[7] = "2"; // --epochs 2
    let third = run("figures", &other);
    let said = text(&third);
    assert!(!third.status.success(), "{said}");
    assert!(said.contains("other settings"), "{said}");
    assert!(!said.contains("[1/1]"), "{said}");
}

#[test]
fn elsa_table_shards_and_merges_from_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("grid");
    let out = out.to_str().unwrap();
    let grid = [
        "--activations",
        "relu",
        "--elsa",
        "both",
        "--optimizers",
        "sgd",
        "--lrs",
        "1e-2",
        "--seeds",
        "1",
        "--train-limit",
        "100",
        "--jobs",
        "1",
        "--out",
        out,
    ];
    for shard in ["1/2", "2/2"] {
        let mut args = grid.to_vec();
        args.extend(["--shard", shard]);
        let made = run("elsa_table", &args);
        let said = text(&made);
        assert!(made.status.success(), "{said}");
        assert!(
            said.contains("--merge"),
            "the shard says how to merge: {said}"
        );
        assert!(!said.contains("Table 1"), "a shard writes no table: {said}");
    }
    let mut args = grid.to_vec();
    args.extend(["--merge", out]);
    let merged = run("elsa_table", &args);
    let said = text(&merged);
    assert!(merged.status.success(), "{said}");
    assert!(said.contains("merged 2 runs"), "{said}");
    assert!(said.contains("Table 1"), "{said}");
    assert!(Path::new(out).join("table4.md").is_file());

    // A shard out of range is refused with the valid form.
    let mut args = grid.to_vec();
    args.extend(["--shard", "3/2"]);
    let refused = run("elsa_table", &args);
    assert!(!refused.status.success());
    assert!(text(&refused).contains("1 <= K <= N"), "{}", text(&refused));
}
