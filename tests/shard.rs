//! A grid split into shards, run separately and merged, gives the tables of the grid run
//! whole; merging refuses missing, duplicated, conflicting and mismatched results.

use std::path::{Path, PathBuf};

use arelu::experiment::batches::Images;
use arelu::experiment::generate::{generate, merge, MergeError, Schedule};
use arelu::experiment::grid::{learning_rate, ElsaMode, Grid};
use arelu::experiment::record::{DataChecksums, Settings, FORMAT};
use arelu::experiment::shard::Shard;
use arelu::experiment::train::BATCH_SIZE;
use arelu::experiment::Optimizer;
use arelu::mnist::Mnist;

fn data() -> (Images, Images, Settings) {
    let mut mnist = Mnist::load_shipped().unwrap();
    mnist.train.truncate(200);
    mnist.test.truncate(100);
    let settings = Settings {
        format: FORMAT,
        data: DataChecksums::of(&mnist.train, &mnist.test),
        train_images: 200,
        test_images: 100,
        epochs: 1,
        batch_size: BATCH_SIZE,
    };
    (
        Images::new(&mnist.train),
        Images::new(&mnist.test),
        settings,
    )
}

/// relu, arelu and elsa-relu, two seeds: 6 runs.
fn grid() -> Grid {
    Grid {
        activations: vec!["relu".parse().unwrap(), "arelu".parse().unwrap()],
        elsa: ElsaMode::Both,
        optimizers: vec![Optimizer::Sgd],
        lrs: vec![learning_rate(1e-2).unwrap()],
        seeds: 2,
        epochs: 1,
    }
}

fn read(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(path.as_ref())
        .unwrap_or_else(|e| panic!("{}: {e}", path.as_ref().display()))
}

/// `results.csv` without its last column (the training seconds, which differ from run to run).
fn csv_without_seconds(dir: &Path) -> Vec<String> {
    read(dir.join("results.csv"))
        .lines()
        .map(|l| l.rsplit_once(',').unwrap().0.to_string())
        .collect()
}

/// Runs the grid whole into `whole` and as three shards into `sharded`; returns the whole
/// grid's headline.
fn run_whole_and_sharded(whole: &Path, sharded: &Path) -> String {
    let (train, test, settings) = data();
    let data = (&train, &test);
    let whole = generate(&grid(), data, &settings, whole, Schedule::default(), |_| {}).unwrap();
    assert_eq!(whole.total, 6);
    let mut in_shards = 0;
    for (k, jobs) in [(1, 1), (2, 2), (3, 1)] {
        let schedule = Schedule {
            jobs,
            max_runs: None,
            shard: Some(Shard::new(k, 3).unwrap()),
        };
        let made = generate(&grid(), data, &settings, sharded, schedule, |_| {}).unwrap();
        assert_eq!(made.total, 2, "shard {k}");
        assert!(made.files.is_empty() && made.headline.is_none());
        assert_eq!(
            made.results,
            sharded.join(format!("shard-{k}-of-3/results.jsonl"))
        );
        in_shards += made.ran;
    }
    assert_eq!(in_shards, 6);
    whole.headline.unwrap()
}

#[test]
fn three_shards_merged_give_the_tables_of_the_whole_grid() {
    let tmp = tempfile::tempdir().unwrap();
    let (whole, sharded, merged) = (
        tmp.path().join("whole"),
        tmp.path().join("parts"),
        tmp.path().join("merged"),
    );
    let headline = run_whole_and_sharded(&whole, &sharded);
    let done = merge(&grid(), &[&sharded], &merged).unwrap();
    assert_eq!((done.total, done.skipped, done.ran), (6, 0, 0));
    for file in ["table1.md", "table4.md", "summary.json"] {
        assert_eq!(read(whole.join(file)), read(merged.join(file)), "{file}");
    }
    assert_eq!(csv_without_seconds(&whole), csv_without_seconds(&merged));
    assert_eq!(done.headline, Some(headline));
    // The merged results file holds the six runs; merging again adds nothing and agrees.
    assert_eq!(read(merged.join("results.jsonl")).lines().count(), 1 + 6);
    let again = merge(&grid(), &[&sharded], &merged).unwrap();
    assert_eq!((again.total, again.skipped), (6, 6));
    assert_eq!(read(merged.join("results.jsonl")).lines().count(), 1 + 6);

    // Shard directories can be given one by one too.
    let merged2 = tmp.path().join("merged2");
    let dirs: Vec<PathBuf> = (1..=3)
        .map(|k| sharded.join(format!("shard-{k}-of-3")))
        .collect();
    merge(&grid(), &dirs, &merged2).unwrap();
    assert_eq!(
        read(whole.join("table1.md")),
        read(merged2.join("table1.md"))
    );
}

/// Rewrites the first record line of `file` through `change`.
fn edit_first_record(file: &Path, change: impl Fn(&mut serde_json::Value)) {
    let text = read(file);
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut record: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
    change(&mut record);
    lines[1] = record.to_string();
    std::fs::write(file, lines.join("\n") + "\n").unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    std::fs::copy(from.join("results.jsonl"), to.join("results.jsonl")).unwrap();
}

#[test]
fn merging_refuses_missing_duplicated_conflicting_and_mismatched_results() {
    let tmp = tempfile::tempdir().unwrap();
    let (whole, sharded, out) = (
        tmp.path().join("whole"),
        tmp.path().join("parts"),
        tmp.path().join("out"),
    );
    run_whole_and_sharded(&whole, &sharded);
    let shard = |k: usize| sharded.join(format!("shard-{k}-of-3"));

    // A shard left out.
    match merge(&grid(), &[shard(1), shard(3)], &out) {
        Err(MergeError::Missing { missing, total, .. }) => assert_eq!((missing, total), (2, 6)),
        other => panic!("{other:?}"),
    }
    // A shard given twice.
    let twice = merge(&grid(), &[shard(1), shard(2), shard(3), shard(2)], &out);
    assert!(
        matches!(twice, Err(MergeError::Duplicate { .. })),
        "{twice:?}"
    );
    // The whole grid's file next to the shards: every run twice, same results apart from the
    // timing.
    let both = merge(&grid(), &[&sharded, &whole], &out);
    assert!(
        matches!(both, Err(MergeError::Duplicate { .. })),
        "{both:?}"
    );

    // The same run with another result.
    let changed = tmp.path().join("changed");
    copy_dir(&shard(2), &changed);
    edit_first_record(&changed.join("results.jsonl"), |r| {
        r["test_accuracy"] = serde_json::json!(1.5)
    });
    let conflict = merge(
        &grid(),
        &[shard(1), shard(2), shard(3), changed.clone()],
        &out,
    );
    assert!(
        matches!(conflict, Err(MergeError::Conflict { .. })),
        "{conflict:?}"
    );

    // A file made with other settings.
    let other = tmp.path().join("other");
    copy_dir(&shard(3), &other);
    let text = read(other.join("results.jsonl")).replacen(
        "\"train_images\":200",
        "\"train_images\":199",
        1,
    );
    std::fs::write(other.join("results.jsonl"), text).unwrap();
    match merge(&grid(), &[shard(1), shard(2), other.clone()], &out) {
        Err(MergeError::SettingsDiffer { differences, .. }) => {
            assert!(differences.contains("train_images"), "{differences}")
        }
        other => panic!("{other:?}"),
    }
    // Another grid than the shards': a run it does not hold, or other epochs.
    let mut smaller = grid();
    smaller.activations.truncate(1);
    let not_in = merge(&smaller, &[&sharded], &out);
    assert!(
        matches!(not_in, Err(MergeError::NotInGrid { .. })),
        "{not_in:?}"
    );
    let mut longer = grid();
    longer.epochs = 2;
    let epochs = merge(&longer, &[&sharded], &out);
    assert!(
        matches!(
            epochs,
            Err(MergeError::OtherEpochs {
                file: 1,
                grid: 2,
                ..
            })
        ),
        "{epochs:?}"
    );
    // A directory without results.
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let none = merge(&grid(), &[&empty], &out);
    assert!(matches!(none, Err(MergeError::NoResults(_))), "{none:?}");

    // None of the refused merges wrote anything.
    assert!(!out.exists());
    // An output directory whose results file disagrees with the shards is refused too.
    copy_dir(&changed, &out);
    let stale = merge(&grid(), &[&sharded], &out);
    assert!(
        matches!(stale, Err(MergeError::Conflict { .. })),
        "{stale:?}"
    );
}

#[test]
fn a_shard_resumes_on_its_own() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("resume");
    let (train, test, settings) = data();
    let schedule = |max_runs| Schedule {
        jobs: 1,
        max_runs,
        shard: Some(Shard::new(2, 2).unwrap()),
    };
    let first = generate(
        &grid(),
        (&train, &test),
        &settings,
        &dir,
        schedule(Some(1)),
        |_| {},
    )
    .unwrap();
    assert_eq!((first.total, first.ran), (3, 1));
    let second = generate(
        &grid(),
        (&train, &test),
        &settings,
        &dir,
        schedule(None),
        |_| {},
    )
    .unwrap();
    assert_eq!((second.skipped, second.ran), (1, 2));
    // Shard 2 of 2 holds the runs at odd positions of the grid's order.
    let specs = grid().specs();
    let expected: Vec<_> = specs.iter().skip(1).step_by(2).map(|s| s.key()).collect();
    let text = read(dir.join("shard-2-of-2/results.jsonl"));
    let stored: Vec<_> = text
        .lines()
        .skip(1)
        .map(|l| {
            use arelu::experiment::store::StoreRecord;
            serde_json::from_str::<arelu::experiment::RunRecord>(l)
                .unwrap()
                .key()
        })
        .collect();
    assert_eq!(stored, expected);
}
