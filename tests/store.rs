//! The results store across processes: a second process is refused while the first holds
//! the file, naming it, and the lock dies with its process however it ends.

use std::path::Path;
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

#[test]
fn a_second_process_is_refused_naming_the_first_and_the_lock_dies_with_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut child = spawn_holder(dir);
    wait_for(&dir.join("holding"));
    let err = TrialStore::open(dir, &settings()).unwrap_err();
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
    let mut store = TrialStore::open(dir, &settings()).unwrap();
    assert_eq!(store.records(), &[Trial { seed: 1 }]);
    assert!(matches!(
        store.append(&Trial { seed: 1 }),
        Err(StoreError::Duplicate { .. })
    ));
    store.append(&Trial { seed: 2 }).unwrap();
    drop(store);
    let contents = TrialStore::read_only(&dir.join(FILE_NAME)).unwrap();
    assert_eq!(contents.records.len(), 2);
}

/// A record with a payload, to fill a small disk quickly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Padded {
    seed: u64,
    padding: String,
}

impl StoreRecord for Padded {
    type Key = u64;
    fn key(&self) -> u64 {
        self.seed
    }
}

/// A 64 KiB tmpfs mounted for a test on a temporary directory, unmounted when dropped (and
/// the directory then removed).
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    /// `None` where mounting is not possible (no privileges, no `mount`).
    fn mount() -> Option<Self> {
        let dir = tempfile::tempdir().ok()?;
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
            .arg(dir.path())
            .output()
            .ok()?
            .status
            .success();
        if !mounted {
            return None;
        }
        Some(Self { dir })
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let unmounted = Command::new("umount")
            .arg(self.dir.path())
            .status()
            .is_ok_and(|status| status.success());
        // Where the mount is still busy (a handle not yet closed on a loaded machine), a lazy
        // unmount detaches it now and frees it once the last handle goes, so that no mount
        // outlives the test.
        if !unmounted {
            let _ = Command::new("umount")
                .arg("-l")
                .arg(self.dir.path())
                .status();
        }
    }
}

#[test]
fn a_full_disk_keeps_every_complete_record_and_the_file_resumes() {
    let Some(disk) = SmallDisk::mount() else {
        eprintln!("skipped: cannot mount a tmpfs here (the cut-back path is also tested through an injected writer)");
        return;
    };
    let settings = "a small disk".to_string();
    let record = |seed| Padded {
        seed,
        padding: "x".repeat(3000),
    };
    // Room to free later, as a user deletes something after "No space left on device".
    let room = disk.dir.path().join("room");
    std::fs::write(&room, vec![0u8; 16 * 1024]).unwrap();
    let mut store: Store<String, Padded> = Store::open(disk.dir.path(), &settings).unwrap();
    let mut stored = 0;
    let err = loop {
        match store.append(&record(stored)) {
            Ok(()) => stored += 1,
            Err(e) => break e,
        }
        assert!(stored < 100, "64 KiB cannot hold 100 records of 3 KB");
    };
    assert!(
        matches!(err, StoreError::Write { cut_back: true, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("cut back"), "{err}");
    drop(store);
    // Only whole lines are left: the header and the records written.
    let text = std::fs::read_to_string(disk.dir.path().join(FILE_NAME)).unwrap();
    assert!(text.ends_with('\n'));
    assert_eq!(text.lines().count() as u64, 1 + stored);

    // After making room, the file resumes with every record and takes the next one.
    std::fs::remove_file(&room).unwrap();
    let mut store: Store<String, Padded> = Store::open(disk.dir.path(), &settings).unwrap();
    assert_eq!(store.records().len() as u64, stored);
    assert!(store.recovered().is_none());
    store.append(&record(stored)).unwrap();
    drop(store);

    // A disk full to the last byte: not even a header fits, and no file is left behind to be
    // refused later.
    let other = disk.dir.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    let mut filler = std::fs::File::create(&room).unwrap();
    let chunk = vec![0u8; 1024];
    while std::io::Write::write_all(&mut filler, &chunk).is_ok() {}
    while std::io::Write::write_all(&mut filler, &chunk[..1]).is_ok() {}
    drop(filler);
    let small = Padded {
        seed: 0,
        padding: String::new(),
    };
    assert!(
        Store::<String, Padded>::open(&other, &settings).is_err(),
        "a header cannot be written on a full disk"
    );
    assert!(
        !other.join(FILE_NAME).exists(),
        "a results file was left behind on a full disk"
    );
    std::fs::remove_file(&room).unwrap();
    let mut fresh: Store<String, Padded> = Store::open(&other, &settings).unwrap();
    fresh.append(&small).unwrap();
    assert_eq!(fresh.records().len(), 1);
}
