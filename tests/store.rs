//! The results store across processes: a second process is refused while the first holds
//! the file, naming it, and the lock dies with its process however it ends.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use arelu::experiment::store::{Store, StoreError, StoreRecord, FILE_NAME};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Trial {
    seed: u64,
}

impl StoreRecord for Trial {
    type Key = u64;
    fn key(&self) -> u64 {
        self.seed
    }
}

type TrialStore = Store<String, Trial>;

const HOLD: &str = "ARELU_TEST_STORE_HOLD";

fn settings() -> String {
    "two processes".to_string()
}

/// Run by the child process only: opens the store, appends a record and waits to be killed.
#[test]
fn hold_the_store_when_asked() {
    let Some(dir) = std::env::var_os(HOLD) else {
        return;
    };
    let mut store = TrialStore::open(Path::new(&dir), &settings()).unwrap();
    store.append(&Trial { seed: 1 }).unwrap();
    std::fs::write(Path::new(&dir).join("holding"), "").unwrap();
    std::thread::sleep(Duration::from_secs(600));
}

fn spawn_holder(dir: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "hold_the_store_when_asked", "--nocapture"])
        .env(HOLD, dir)
        .spawn()
        .unwrap()
}

fn wait_for(path: &Path) {
    let start = Instant::now();
    while !path.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the child never held the store"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn fresh_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("arelu-store-it-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_second_process_is_refused_naming_the_first_and_the_lock_dies_with_it() {
    let dir = fresh_dir("two");
    let mut child = spawn_holder(&dir);
    wait_for(&dir.join("holding"));
    let err = TrialStore::open(&dir, &settings()).unwrap_err();
    let expected = format!("pid {} on host ", child.id());
    assert!(
        matches!(&err, StoreError::Locked { holder, .. } if holder.starts_with(&expected)),
        "{err}"
    );
    assert!(err.to_string().contains("in use by"), "{err}");
    // Reading for a merge is refused too while the file is being written.
    assert!(matches!(
        TrialStore::read_only(&dir.join(FILE_NAME)),
        Err(StoreError::Locked { .. })
    ));
    // Killed, never dropping its store: the operating system releases the lock.
    child.kill().unwrap();
    child.wait().unwrap();
    let mut store = TrialStore::open(&dir, &settings()).unwrap();
    assert_eq!(store.records(), &[Trial { seed: 1 }]);
    assert!(matches!(
        store.append(&Trial { seed: 1 }),
        Err(StoreError::Duplicate { .. })
    ));
    store.append(&Trial { seed: 2 }).unwrap();
    drop(store);
    let contents = TrialStore::read_only(&dir.join(FILE_NAME)).unwrap();
    assert_eq!(contents.records.len(), 2);
    std::fs::remove_dir_all(&dir).ok();
}
