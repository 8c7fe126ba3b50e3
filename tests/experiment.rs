//! The table generator end to end on a tiny configuration, and resuming an interrupted grid.

use std::path::Path;

use arelu::experiment::batches::Images;
use arelu::experiment::generate::{generate, Schedule};
use arelu::experiment::grid::{learning_rate, ElsaMode, Grid};
use arelu::experiment::record::{DataChecksums, Settings, FORMAT};
use arelu::experiment::train::BATCH_SIZE;
use arelu::experiment::Optimizer;
use arelu::mnist::Mnist;

fn data() -> (Images, Images, Settings) {
    let mut mnist = Mnist::load_shipped().unwrap();
    mnist.train.truncate(300);
    mnist.test.truncate(200);
    let settings = Settings {
        format: FORMAT,
        data: DataChecksums::of(&mnist.train, &mnist.test),
        train_images: 300,
        test_images: 200,
        epochs: 1,
        batch_size: BATCH_SIZE,
    };
    (
        Images::new(&mnist.train),
        Images::new(&mnist.test),
        settings,
    )
}

fn grid() -> Grid {
    Grid {
        activations: ["relu", "sigmoid", "prelu", "arelu"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect(),
        elsa: ElsaMode::Both,
        optimizers: vec![Optimizer::Sgd, Optimizer::Adam],
        lrs: vec![learning_rate(1e-2).unwrap(), learning_rate(1e-3).unwrap()],
        seeds: 2,
        epochs: 1,
    }
}

fn two_jobs() -> Schedule {
    Schedule {
        jobs: 2,
        ..Schedule::default()
    }
}

/// The data cells of a markdown table row: `(name, cells)`.
fn rows(markdown: &str) -> Vec<(String, Vec<String>)> {
    markdown
        .lines()
        .filter(|l| l.starts_with('|') && !l.starts_with("|---") && !l.starts_with("| activation"))
        .map(|l| {
            let cells: Vec<String> = l
                .trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_string())
                .collect();
            (cells[0].clone(), cells[2..].to_vec())
        })
        .collect()
}

/// The mean in a cell such as `**97.12 ± 0.31** †`.
fn mean(cell: &str) -> f64 {
    let cleaned: String = cell
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '.' || *c == ' ' || *c == '±')
        .collect();
    cleaned.split('±').next().unwrap().trim().parse().unwrap()
}

fn run(dir: &Path, max_runs: Option<usize>) -> arelu::experiment::generate::Generated {
    let (train, test, settings) = data();
    generate(
        &grid(),
        (&train, &test),
        &settings,
        dir,
        Schedule {
            jobs: 2,
            max_runs,
            shard: None,
        },
        |_| {},
    )
    .unwrap()
}

#[test]
fn tiny_grid_end_to_end_gives_complete_consistent_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let generated = run(&dir, None);
    // 4 plain + 3 ELSA-wrapped (no elsa-arelu), x 2 optimisers x 2 rates x 2 seeds.
    assert_eq!(generated.total, 7 * 2 * 2 * 2);
    assert_eq!(generated.ran, generated.total);
    assert_eq!(generated.files.len(), 4);

    let table1 = std::fs::read_to_string(dir.join("table1.md")).unwrap();
    let table4 = std::fs::read_to_string(dir.join("table4.md")).unwrap();
    for header in ["SGD 1e-2", "SGD 1e-3", "Adam 1e-2", "Adam 1e-3"] {
        assert!(
            table1.contains(header) && table4.contains(header),
            "{header}"
        );
    }
    let plain = rows(&table1);
    let names: Vec<&str> = plain.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(&names[..4], ["relu", "sigmoid", "prelu", "arelu"]);
    for (name, cells) in &plain[..4] {
        assert_eq!(cells.len(), 4, "{name}");
        assert!(
            cells.iter().all(|c| c.contains('±')),
            "{name}: every cell present: {cells:?}"
        );
    }
    // Marks: in each column, bold is on the best fixed row (relu or sigmoid), italic on prelu
    // (the only other learnable one), and the bottom rows are AReLU minus those.
    for col in 0..4 {
        let value = |row: usize| mean(&plain[row].1[col]);
        let best_fixed = if value(0) >= value(1) { 0 } else { 1 };
        assert!(
            plain[best_fixed].1[col].contains("**"),
            "column {col}: {:?}",
            plain
        );
        assert!(!plain[1 - best_fixed].1[col].contains("**") || value(0) == value(1));
        assert!(plain[2].1[col].contains('_'));
        let improvement: f64 = plain[4].1[col].parse().unwrap();
        assert!(
            (improvement - (value(3) - value(best_fixed))).abs() < 0.011,
            "column {col}"
        );
        let over_learnable: f64 = plain[5].1[col].parse().unwrap();
        assert!(
            (over_learnable - (value(3) - value(2))).abs() < 0.011,
            "column {col}"
        );
    }
    // Table 4: a cell is underlined exactly where ELSA beats the plain activation.
    let wrapped = rows(&table4);
    for (name, cells) in wrapped.iter().filter(|(n, _)| n.starts_with("elsa-")) {
        let base = &plain
            .iter()
            .find(|(n, _)| *n == name["elsa-".len()..])
            .unwrap()
            .1;
        for col in 0..4 {
            let better = mean(&cells[col]) > mean(&base[col]);
            assert_eq!(cells[col].contains("<u>"), better, "{name} column {col}");
        }
    }
    let csv = std::fs::read_to_string(dir.join("results.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + generated.total);
    assert!(std::fs::read_to_string(dir.join("summary.json"))
        .unwrap()
        .contains("\"cells\""));
}

#[test]
fn an_interrupted_grid_resumes_to_the_same_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let whole = tmp.path().join("whole");
    let parts = tmp.path().join("parts");
    run(&whole, None);
    let first = run(&parts, Some(11));
    assert_eq!(first.ran, 11);
    let second = run(&parts, None);
    assert_eq!(second.skipped, 11);
    assert_eq!(second.ran, second.total - 11);
    for file in ["table1.md", "table4.md", "summary.json"] {
        assert_eq!(
            std::fs::read_to_string(whole.join(file)).unwrap(),
            std::fs::read_to_string(parts.join(file)).unwrap(),
            "{file}"
        );
    }
    // A third call has nothing left to do.
    let third = run(&parts, None);
    assert_eq!((third.ran, third.skipped), (0, third.total));
}

#[test]
fn a_results_file_with_other_settings_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    run(&dir, Some(1));
    let (train, test, mut settings) = data();
    settings.epochs = 3;
    let before = std::fs::read(dir.join("results.jsonl")).unwrap();
    let err = generate(
        &grid(),
        (&train, &test),
        &settings,
        &dir,
        Schedule::default(),
        |_| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("other settings"), "{err}");
    assert_eq!(std::fs::read(dir.join("results.jsonl")).unwrap(), before);
}

#[test]
fn repeated_list_entries_run_once_and_the_file_stays_readable() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let (train, test, settings) = data();
    let mut repeated = grid();
    repeated.activations = vec!["relu".parse().unwrap(), "relu".parse().unwrap()];
    repeated.elsa = ElsaMode::Off;
    repeated.optimizers = vec![Optimizer::Sgd, Optimizer::Sgd];
    repeated.lrs = vec![learning_rate(1e-2).unwrap(), learning_rate(0.01).unwrap()];
    repeated.seeds = 1;
    let first = generate(
        &repeated,
        (&train, &test),
        &settings,
        &dir,
        two_jobs(),
        |_| {},
    )
    .unwrap();
    assert_eq!((first.total, first.ran), (1, 1));
    let lines = std::fs::read_to_string(dir.join("results.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 2, "{lines}");
    let again = generate(
        &repeated,
        (&train, &test),
        &settings,
        &dir,
        two_jobs(),
        |_| {},
    )
    .unwrap();
    assert_eq!((again.ran, again.skipped), (0, 1));
}
