//! A results file that survives interruptions, full disks and concurrent use: JSON lines,
//! the settings on the first line, then one finished record per line, appended as each
//! record is made, so that an interrupted experiment resumes where it stopped.
//!
//! The store is generic: any record type implementing [`StoreRecord`] and any settings type
//! (`Serialize + DeserializeOwned + PartialEq + Debug`) can use it.
//!
//! # Guarantees
//!
//! - **One process at a time.** [`Store::open`] takes an exclusive advisory lock on
//!   `results.jsonl.lock` next to the file and holds it until the store is dropped; the
//!   operating system releases it when the process ends, however it ends. A second process
//!   gets [`StoreError::Locked`] naming the holder (its pid and host, written in the lock
//!   file).
//! - **Creation without a race.** The file is created with create-new semantics under the
//!   lock and the settings header is written in one piece; if that write fails the file is
//!   removed again.
//! - **Each record written in one piece.** A record is serialised first and written with one
//!   call; if the write fails (a full disk), the file is cut back to its last complete line,
//!   so the next open finds only whole records.
//! - **Recovery.** On open, an incomplete last line (no newline, as a crash can leave, or a
//!   last line that does not parse) is moved into a side file
//!   (`results.jsonl.incomplete`, `.incomplete.2`, ...), reported by [`Store::recovered`],
//!   and the file is cut back to its complete lines: that record is simply made again. A
//!   line that does not parse anywhere else, a second record with the same key, or a header
//!   with other settings are refused with the file left untouched.
//!
//! ```
//! use arelu::experiment::store::{Store, StoreRecord};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
//! struct Trial { seed: u64, score: f64 }
//!
//! impl StoreRecord for Trial {
//!     type Key = u64;
//!     fn key(&self) -> u64 { self.seed }
//! }
//!
//! # fn main() -> Result<(), arelu::experiment::store::StoreError> {
//! let dir = std::env::temp_dir().join(format!("arelu-store-doc-{}", std::process::id()));
//! # let _ = std::fs::remove_dir_all(&dir);
//! let settings = ("my experiment".to_string(), 3u32);
//! let mut store: Store<_, Trial> = Store::open(&dir, &settings)?;
//! store.append(&Trial { seed: 0, score: 0.5 })?;
//! assert!(store.append(&Trial { seed: 0, score: 0.7 }).is_err()); // same key
//! drop(store); // releases the lock
//!
//! let store: Store<_, Trial> = Store::open(&dir, &settings)?; // resumes
//! assert!(store.contains(&0));
//! assert_eq!(store.records().len(), 1);
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok(())
//! # }
//! ```

use std::collections::HashSet;
use std::fmt::Debug;
use std::fs::{File, OpenOptions, TryLockError};
use std::hash::Hash;
use std::io::{Read, Seek, SeekFrom, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

/// The results file's name inside the directory given to [`Store::open`].
pub const FILE_NAME: &str = "results.jsonl";

/// A record kept in a [`Store`]: one JSON line, identified by its key. A store holds at most
/// one record per key.
pub trait StoreRecord: Serialize + DeserializeOwned + Clone + Send {
    /// What identifies a record (e.g. activation, optimiser, learning rate and seed).
    type Key: Eq + Hash + Ord + Clone + Debug + Send;
    /// This record's key.
    fn key(&self) -> Self::Key;
}

/// What can go wrong with a results file.
#[derive(Debug, Error)]
pub enum StoreError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Appending a record failed (a full disk, for example).
    #[error("{path}: writing a record failed: {source}; {}", if *.cut_back {
        "the file was cut back to its last complete record"
    } else {
        "cutting the file back failed too: the next open sets the incomplete line aside"
    })]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
        /// Whether the file was cut back to its last complete line.
        cut_back: bool,
    },
    /// Another process holds the file.
    #[error("{path} is in use by {holder}; wait for it to finish or use another output directory")]
    Locked {
        /// The file.
        path: PathBuf,
        /// The holder as written in the lock file (`"pid 1234 on host node7"`).
        holder: String,
    },
    /// A line that is not what it should be, other than an incomplete last line.
    #[error(
        "{path}, line {line}: {reason}; the file is left as it is (move it away to start over)"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The file was made with other settings.
    #[error("{path} was made with other settings ({differences}); use another output directory or the same settings")]
    OtherSettings {
        /// The file.
        path: PathBuf,
        /// The settings that differ: `"epochs: file 1, now 20"`.
        differences: String,
    },
    /// [`Store::append`] was given a record whose key is already stored.
    #[error("{path} already holds a record of {key}")]
    Duplicate {
        /// The file.
        path: PathBuf,
        /// The key, `Debug`-formatted.
        key: String,
    },
}

#[derive(Serialize, Deserialize)]
struct Header<S> {
    settings: S,
}

/// The result of [`scan`]: the contents of a results file's bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Scanned<S, R> {
    /// The settings of the header line; `None` when the file has no complete header.
    pub settings: Option<S>,
    /// The records of the complete lines, in file order.
    pub records: Vec<R>,
    /// The length in bytes of the part kept: the header and the complete records, each
    /// ending in a newline.
    pub complete_len: usize,
    /// Where the incomplete last line starts (it runs to the end), if there is one.
    pub incomplete: Option<usize>,
}

/// Where a scan found a problem: a line number (1-based) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

/// Reads the bytes of a results file: the header, the records of the complete lines, and
/// the incomplete last line if any (one without a newline, or a last line that does not
/// parse). Never panics; touches no file.
///
/// # Errors
/// A line other than the last that does not parse (line 1 must be a settings header), or
/// a second record with the same key.
///
/// ```
/// use arelu::experiment::store::{scan, StoreRecord};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
/// struct Seed(u64);
/// impl StoreRecord for Seed {
///     type Key = u64;
///     fn key(&self) -> u64 { self.0 }
/// }
///
/// let bytes = b"{\"settings\":7}\n3\n4\n5";
/// let scanned = scan::<u32, Seed>(bytes).unwrap();
/// assert_eq!(scanned.settings, Some(7));
/// assert_eq!(scanned.records, [Seed(3), Seed(4)]);
/// assert_eq!(scanned.incomplete, Some(bytes.len() - 1)); // "5" has no newline
/// assert!(scan::<u32, Seed>(b"{\"settings\":7}\n3\n3\n").is_err()); // one key twice
/// ```
pub fn scan<S: DeserializeOwned, R: StoreRecord>(bytes: &[u8]) -> Result<Scanned<S, R>, ScanError> {
    let mut scanned = Scanned {
        settings: None,
        records: Vec::new(),
        complete_len: 0,
        incomplete: None,
    };
    let mut keys = HashSet::new();
    let mut start = 0;
    let mut number = 0;
    while start < bytes.len() {
        number += 1;
        let Some(newline) = bytes[start..].iter().position(|&b| b == b'\n') else {
            // No newline: an interrupted write.
            scanned.incomplete = Some(start);
            break;
        };
        let end = start + newline + 1;
        let line = &bytes[start..newline + start];
        let last = end == bytes.len();
        if number == 1 {
            match serde_json::from_slice::<Header<S>>(line) {
                Ok(header) => scanned.settings = Some(header.settings),
                Err(e) => {
                    return Err(ScanError {
                        line: 1,
                        reason: format!("not a settings header: {e}"),
                    })
                }
            }
        } else {
            match serde_json::from_slice::<R>(line) {
                Ok(record) => {
                    if !keys.insert(record.key()) {
                        return Err(ScanError {
                            line: number,
                            reason: format!("a second record of {:?}", record.key()),
                        });
                    }
                    scanned.records.push(record);
                }
                // A last line that does not parse: a cut write that got a newline later
                // (as older versions could leave), set aside like one without a newline.
                Err(_) if last => {
                    scanned.incomplete = Some(start);
                    break;
                }
                Err(e) => {
                    return Err(ScanError {
                        line: number,
                        reason: format!("not a record: {e}"),
                    })
                }
            }
        }
        start = end;
        scanned.complete_len = end;
    }
    Ok(scanned)
}

/// The settings that differ between two values, as `"name: file X, now Y"` (top-level
/// fields of JSON objects; the whole values otherwise).
pub(crate) fn differences<S: Serialize>(found: &S, expected: &S) -> String {
    let (Ok(found), Ok(expected)) = (serde_json::to_value(found), serde_json::to_value(expected))
    else {
        return "settings that cannot be shown".into();
    };
    match (&found, &expected) {
        (Value::Object(f), Value::Object(e)) => {
            let mut names: Vec<&String> = f.keys().chain(e.keys()).collect();
            names.sort();
            names.dedup();
            let none = Value::Null;
            let parts: Vec<String> = names
                .into_iter()
                .filter(|n| f.get(*n) != e.get(*n))
                .map(|n| {
                    format!(
                        "{n}: file {}, now {}",
                        f.get(n).unwrap_or(&none),
                        e.get(n).unwrap_or(&none)
                    )
                })
                .collect();
            if parts.is_empty() {
                format!("file {found}, now {expected}")
            } else {
                parts.join("; ")
            }
        }
        _ => format!("file {found}, now {expected}"),
    }
}

/// The lock file of a results file: `results.jsonl.lock`.
fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    path.with_file_name(name)
}

/// `"pid 1234 on host node7"`.
fn holder() -> String {
    format!(
        "pid {} on host {}",
        std::process::id(),
        gethostname::gethostname().to_string_lossy()
    )
}

/// The holder written in a lock file, or a description when it cannot be read.
fn read_holder(lock: &mut File) -> String {
    let mut text = String::new();
    // The holder line is short; a longer file is not one of ours and is not read whole.
    let _ = lock.take(256).read_to_string(&mut text);
    let text = text.trim();
    if text.is_empty() {
        "another process".into()
    } else {
        text.to_string()
    }
}

/// A results file opened by this process: its settings checked, its records read, locked
/// against other processes until dropped.
#[derive(Debug)]
pub struct Store<S, R: StoreRecord> {
    path: PathBuf,
    file: File,
    /// Held for the lock; the lock goes with the handle.
    _lock: File,
    /// Bytes of complete lines: where the file is cut back to when a write fails.
    len: u64,
    records: Vec<R>,
    keys: HashSet<R::Key>,
    recovered: Option<PathBuf>,
    settings: PhantomData<S>,
    /// Test hook: bytes the file accepts before writes fail as on a full disk.
    #[cfg(test)]
    room: Option<u64>,
}

impl<S, R> Store<S, R>
where
    S: Serialize + DeserializeOwned + PartialEq + Debug,
    R: StoreRecord,
{
    /// Opens `dir/results.jsonl` (see [`Store::open_file`]), creating `dir` if needed.
    ///
    /// # Errors
    /// See [`Store::open_file`].
    pub fn open(dir: &Path, settings: &S) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        Self::open_file(&dir.join(FILE_NAME), settings)
    }

    /// Locks `path` (through `path.lock`), then creates it with `settings` as its header if
    /// it does not exist, or reads its records if its settings are `settings`, setting an
    /// incomplete last line aside (see the module's guarantees).
    ///
    /// # Errors
    /// [`StoreError::Locked`] when another process holds it, [`StoreError::OtherSettings`],
    /// [`StoreError::Corrupt`], or [`StoreError::Io`]. Except for setting aside an incomplete
    /// last line, a file is never changed by a failed open.
    pub fn open_file(path: &Path, settings: &S) -> Result<Self, StoreError> {
        let io = |source| StoreError::Io {
            path: path.to_path_buf(),
            source,
        };
        let lock_path = lock_path(path);
        let lock_io = |source| StoreError::Io {
            path: lock_path.clone(),
            source,
        };
        let mut lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(lock_io)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(StoreError::Locked {
                    path: path.to_path_buf(),
                    holder: read_holder(&mut lock),
                })
            }
            Err(TryLockError::Error(e)) => return Err(lock_io(e)),
        }
        // Naming the holder is for the message of a second process only: failing to write
        // it does not stop this one.
        let _ = lock
            .set_len(0)
            .and_then(|()| lock.write_all(format!("{}\n", holder()).as_bytes()));

        let mut file = match OpenOptions::new()
            .create_new(true)
            .append(true)
            .read(true)
            .open(path)
        {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => OpenOptions::new()
                .append(true)
                .read(true)
                .open(path)
                .map_err(io)?,
            Err(e) => return Err(io(e)),
        };
        let mut bytes = Vec::new();
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        file.read_to_end(&mut bytes).map_err(io)?;
        let scanned = scan::<S, R>(&bytes).map_err(|e| StoreError::Corrupt {
            path: path.to_path_buf(),
            line: e.line,
            reason: e.reason,
        })?;
        if let Some(found) = &scanned.settings {
            if found != settings {
                return Err(StoreError::OtherSettings {
                    path: path.to_path_buf(),
                    differences: differences(found, settings),
                });
            }
        }
        let mut store = Store {
            path: path.to_path_buf(),
            file,
            _lock: lock,
            len: scanned.complete_len as u64,
            keys: scanned.records.iter().map(R::key).collect(),
            records: scanned.records,
            recovered: None,
            settings: PhantomData,
            #[cfg(test)]
            room: None,
        };
        if let Some(start) = scanned.incomplete {
            store.recovered = Some(store.set_aside(&bytes[start..])?);
            store.file.set_len(store.len).map_err(io)?;
            store.file.sync_all().map_err(io)?;
        }
        if scanned.settings.is_none() {
            let header = serde_json::to_vec(&Header { settings }).map_err(|e| io(e.into()))?;
            if let Err(e) = store.write_line(header) {
                // The header could not be written whole: leave no file behind, so that the
                // next open starts afresh.
                let _ = std::fs::remove_file(path);
                return Err(e);
            }
        }
        Ok(store)
    }

    /// Writes `bytes` into a new side file next to the results file and returns its path.
    fn set_aside(&self, bytes: &[u8]) -> Result<PathBuf, StoreError> {
        let base = self.path.file_name().unwrap_or_default().to_os_string();
        for n in 1..=1000u32 {
            let mut name = base.clone();
            name.push(".incomplete");
            if n > 1 {
                name.push(format!(".{n}"));
            }
            let side = self.path.with_file_name(name);
            let io = |source| StoreError::Io {
                path: side.clone(),
                source,
            };
            match OpenOptions::new().write(true).create_new(true).open(&side) {
                Ok(mut f) => {
                    f.write_all(bytes).and_then(|()| f.sync_all()).map_err(io)?;
                    return Ok(side);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(io(e)),
            }
        }
        Err(StoreError::Io {
            path: self.path.clone(),
            source: std::io::Error::other(
                "1000 side files of incomplete lines exist already; move them away",
            ),
        })
    }

    /// Appends `line` and a newline in one write, synced to disk; on failure, cuts the file
    /// back to its last complete line.
    fn write_line(&mut self, mut line: Vec<u8>) -> Result<(), StoreError> {
        line.push(b'\n');
        #[cfg(test)]
        let result = match self.room {
            Some(room) => {
                let mut limited = tests::FullDisk {
                    file: &mut self.file,
                    room,
                };
                let r = limited.write_all(&line);
                self.room = Some(limited.room);
                r
            }
            None => self.file.write_all(&line),
        };
        #[cfg(not(test))]
        let result = self.file.write_all(&line);
        match result.and_then(|()| self.file.sync_data()) {
            Ok(()) => {
                self.len += line.len() as u64;
                Ok(())
            }
            Err(source) => {
                let cut_back = self
                    .file
                    .set_len(self.len)
                    .and_then(|()| self.file.sync_data())
                    .is_ok();
                Err(StoreError::Write {
                    path: self.path.clone(),
                    source,
                    cut_back,
                })
            }
        }
    }

    /// Appends one record as one line, synced to disk at once.
    ///
    /// # Errors
    /// [`StoreError::Duplicate`] if a record with the same key is stored (nothing is
    /// written); [`StoreError::Write`] when writing fails, the file then cut back to its last
    /// complete line.
    pub fn append(&mut self, record: &R) -> Result<(), StoreError> {
        let key = record.key();
        if self.keys.contains(&key) {
            return Err(StoreError::Duplicate {
                path: self.path.clone(),
                key: format!("{key:?}"),
            });
        }
        let line = serde_json::to_vec(record).map_err(|e| StoreError::Write {
            path: self.path.clone(),
            source: e.into(),
            cut_back: true,
        })?;
        self.write_line(line)?;
        self.keys.insert(key);
        self.records.push(record.clone());
        Ok(())
    }
}

impl<S, R: StoreRecord> Store<S, R> {
    /// The records stored, in file order.
    pub fn records(&self) -> &[R] {
        &self.records
    }

    /// Whether a record with this key is stored.
    pub fn contains(&self, key: &R::Key) -> bool {
        self.keys.contains(key)
    }

    /// The side file an incomplete last line was moved into when this store was opened.
    pub fn recovered(&self) -> Option<&Path> {
        self.recovered.as_deref()
    }

    /// The results file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// A results file read without changing it, for merging the files of several machines.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreContents<S, R> {
    /// The file.
    pub path: PathBuf,
    /// Its settings.
    pub settings: S,
    /// Its complete records.
    pub records: Vec<R>,
    /// Whether it ends in an incomplete line (left out of `records`; reopening the file with
    /// [`Store::open`] sets it aside and the run is made again).
    pub incomplete: bool,
}

impl<S, R> Store<S, R>
where
    S: Serialize + DeserializeOwned + PartialEq + Debug,
    R: StoreRecord,
{
    /// Reads `path` without changing it. Takes a shared lock, so a file that a process is
    /// still writing is refused rather than read half-done.
    ///
    /// # Errors
    /// [`StoreError::Locked`] while a process writes it, [`StoreError::Corrupt`] (a file
    /// without a header included), [`StoreError::Io`].
    pub fn read_only(path: &Path) -> Result<StoreContents<S, R>, StoreError> {
        let io = |source| StoreError::Io {
            path: path.to_path_buf(),
            source,
        };
        let lock_path = lock_path(path);
        // No lock file: no process ever opened this file for writing here (a copy).
        let _lock = match File::open(&lock_path) {
            Ok(mut lock) => match lock.try_lock_shared() {
                Ok(()) => Some(lock),
                Err(TryLockError::WouldBlock) => {
                    return Err(StoreError::Locked {
                        path: path.to_path_buf(),
                        holder: read_holder(&mut lock),
                    })
                }
                Err(TryLockError::Error(source)) => {
                    return Err(StoreError::Io {
                        path: lock_path,
                        source,
                    })
                }
            },
            Err(_) => None,
        };
        let bytes = std::fs::read(path).map_err(io)?;
        let scanned = scan::<S, R>(&bytes).map_err(|e| StoreError::Corrupt {
            path: path.to_path_buf(),
            line: e.line,
            reason: e.reason,
        })?;
        let Some(settings) = scanned.settings else {
            return Err(StoreError::Corrupt {
                path: path.to_path_buf(),
                line: 1,
                reason: "no complete settings header".into(),
            });
        };
        Ok(StoreContents {
            path: path.to_path_buf(),
            settings,
            records: scanned.records,
            incomplete: scanned.incomplete.is_some(),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A file on a disk with `room` bytes left: writes beyond fail as a full disk does,
    /// after writing what fits.
    pub(crate) struct FullDisk<'a> {
        pub(crate) file: &'a mut File,
        pub(crate) room: u64,
    }

    impl Write for FullDisk<'_> {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.room == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::StorageFull,
                    "No space left on device",
                ));
            }
            let n = buf.len().min(self.room as usize);
            let n = self.file.write(&buf[..n])?;
            self.room -= n as u64;
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            self.file.flush()
        }
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Rec {
        id: u32,
        text: String,
    }

    impl StoreRecord for Rec {
        type Key = u32;
        fn key(&self) -> u32 {
            self.id
        }
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Settings {
        name: String,
        epochs: u64,
    }

    fn settings() -> Settings {
        Settings {
            name: "test".into(),
            epochs: 1,
        }
    }

    fn rec(id: u32) -> Rec {
        Rec {
            id,
            text: format!("record \"{id}\" é\n"),
        }
    }

    type TestStore = Store<Settings, Rec>;

    #[test]
    fn appends_and_resumes() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("store");
        let mut store = TestStore::open(&dir, &settings()).unwrap();
        store.append(&rec(0)).unwrap();
        store.append(&rec(1)).unwrap();
        drop(store);
        let store = TestStore::open(&dir, &settings()).unwrap();
        assert_eq!(store.records(), &[rec(0), rec(1)]);
        assert!(store.contains(&1) && !store.contains(&2));
        assert_eq!(store.recovered(), None);
    }

    #[test]
    fn a_second_open_is_refused_naming_the_holder_until_the_first_is_dropped() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("store");
        let store = TestStore::open(&dir, &settings()).unwrap();
        let err = TestStore::open(&dir, &settings()).unwrap_err();
        let me = format!("pid {}", std::process::id());
        assert!(
            matches!(&err, StoreError::Locked { holder, .. } if holder.starts_with(&me)),
            "{err}"
        );
        assert!(matches!(
            TestStore::read_only(&dir.join(FILE_NAME)).unwrap_err(),
            StoreError::Locked { .. }
        ));
        drop(store);
        TestStore::open(&dir, &settings()).unwrap();
    }

    #[test]
    fn duplicates_are_refused_on_append_and_on_open() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("store");
        let mut store = TestStore::open(&dir, &settings()).unwrap();
        store.append(&rec(0)).unwrap();
        let err = store.append(&rec(0)).unwrap_err();
        assert!(matches!(err, StoreError::Duplicate { .. }), "{err}");
        drop(store);
        let path = dir.join(FILE_NAME);
        let mut text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2, "the duplicate was not written");
        let line = text.lines().nth(1).unwrap().to_string();
        text.push_str(&format!(
            "{line}\n{}\n",
            serde_json::to_string(&rec(1)).unwrap()
        ));
        std::fs::write(&path, &text).unwrap();
        let err = TestStore::open(&dir, &settings()).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { line: 3, .. }), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    }

    #[test]
    fn other_settings_are_refused_naming_the_difference_and_the_file_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("store");
        let mut store = TestStore::open(&dir, &settings()).unwrap();
        store.append(&rec(0)).unwrap();
        drop(store);
        let before = std::fs::read(dir.join(FILE_NAME)).unwrap();
        let mut other = settings();
        other.epochs = 20;
        let err = TestStore::open(&dir, &other).unwrap_err();
        assert!(matches!(err, StoreError::OtherSettings { .. }), "{err}");
        assert!(err.to_string().contains("epochs: file 1, now 20"), "{err}");
        assert_eq!(std::fs::read(dir.join(FILE_NAME)).unwrap(), before);
    }

    #[test]
    fn a_full_disk_cuts_the_file_back_to_its_last_complete_record() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("store");
        let mut store = TestStore::open(&dir, &settings()).unwrap();
        store.append(&rec(0)).unwrap();
        let path = dir.join(FILE_NAME);
        let before = std::fs::read(&path).unwrap();
        store.room = Some(10);
        let err = store.append(&rec(1)).unwrap_err();
        assert!(
            matches!(err, StoreError::Write { cut_back: true, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("No space left"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), before);
        assert!(!store.contains(&1));
        // Space freed: the same store goes on.
        store.room = None;
        store.append(&rec(1)).unwrap();
        drop(store);
        let store = TestStore::open(&dir, &settings()).unwrap();
        assert_eq!(store.records(), &[rec(0), rec(1)]);
        assert_eq!(store.recovered(), None);
    }

    #[test]
    fn an_empty_file_is_taken_as_new() {
        // What a full disk at creation could leave before the header was written.
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("store");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(FILE_NAME), "").unwrap();
        let store = TestStore::open(&dir, &settings()).unwrap();
        assert_eq!(store.recovered(), None);
        drop(store);
        let text = std::fs::read_to_string(dir.join(FILE_NAME)).unwrap();
        assert!(text.starts_with("{\"settings\":") && text.ends_with('\n'));
    }

    #[test]
    fn an_incomplete_last_line_is_set_aside_and_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("store");
        let mut store = TestStore::open(&dir, &settings()).unwrap();
        store.append(&rec(0)).unwrap();
        drop(store);
        let path = dir.join(FILE_NAME);
        let complete = std::fs::read_to_string(&path).unwrap();
        // A whole record without its newline, then a cut one, then a cut one with a newline.
        let whole = serde_json::to_string(&rec(1)).unwrap();
        for (n, tail) in [
            whole.clone(),
            "{\"id\": 1, \"te".to_string(),
            format!("{{\"id\": 1, \"te{whole}\n"),
        ]
        .into_iter()
        .enumerate()
        {
            std::fs::write(&path, format!("{complete}{tail}")).unwrap();
            let mut store = TestStore::open(&dir, &settings()).unwrap();
            assert_eq!(store.records(), &[rec(0)]);
            let side = store.recovered().unwrap().to_path_buf();
            let expected = if n == 0 {
                "results.jsonl.incomplete".to_string()
            } else {
                format!("results.jsonl.incomplete.{}", n + 1)
            };
            assert_eq!(side.file_name().unwrap().to_str().unwrap(), expected);
            assert_eq!(std::fs::read_to_string(&side).unwrap(), tail);
            assert_eq!(std::fs::read_to_string(&path).unwrap(), complete);
            store.append(&rec(1)).unwrap();
            drop(store);
            let store = TestStore::open(&dir, &settings()).unwrap();
            assert_eq!(store.records(), &[rec(0), rec(1)]);
            drop(store);
        }
    }

    #[test]
    fn a_corrupt_line_before_the_last_is_refused_and_the_file_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("store");
        let mut store = TestStore::open(&dir, &settings()).unwrap();
        store.append(&rec(0)).unwrap();
        store.append(&rec(1)).unwrap();
        drop(store);
        let path = dir.join(FILE_NAME);
        let text = std::fs::read_to_string(&path).unwrap();
        let broken = text.replacen("{\"id\":0", "{\"id\":", 1);
        std::fs::write(&path, &broken).unwrap();
        let err = TestStore::open(&dir, &settings()).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { line: 2, .. }), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), broken);
        std::fs::write(&path, "not json\n").unwrap();
        assert!(matches!(
            TestStore::open(&dir, &settings()).unwrap_err(),
            StoreError::Corrupt { line: 1, .. }
        ));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "not json\n");
    }

    /// Every prefix of a valid file (as a crash at any byte can leave) opens, keeps exactly
    /// the complete records it holds, once each, and takes the missing ones again.
    #[test]
    fn truncation_at_every_byte_loses_and_duplicates_no_complete_line() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("store");
        let mut store = TestStore::open(&dir, &settings()).unwrap();
        for id in 0..4 {
            store.append(&rec(id)).unwrap();
        }
        drop(store);
        let path = dir.join(FILE_NAME);
        let full = std::fs::read(&path).unwrap();
        let ends: Vec<usize> = (0..full.len())
            .filter(|&i| full[i] == b'\n')
            .map(|i| i + 1)
            .collect();
        for cut in 0..=full.len() {
            std::fs::remove_dir_all(&dir).unwrap();
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &full[..cut]).unwrap();
            let mut store = TestStore::open(&dir, &settings()).unwrap();
            // Complete lines in the prefix: the header and then records 0, 1, ...
            let whole = ends.iter().filter(|&&e| e <= cut).count();
            let kept = whole.saturating_sub(1);
            let expected: Vec<Rec> = (0..kept as u32).map(rec).collect();
            assert_eq!(store.records(), expected.as_slice(), "cut at {cut}");
            let kept_len = if whole == 0 { 0 } else { ends[whole - 1] };
            assert_eq!(store.recovered().is_some(), cut > kept_len, "cut at {cut}");
            for id in kept as u32..4 {
                store.append(&rec(id)).unwrap();
            }
            drop(store);
            assert_eq!(std::fs::read(&path).unwrap(), full, "cut at {cut}");
        }
    }

    #[test]
    fn read_only_reads_without_changing() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("store");
        let mut store = TestStore::open(&dir, &settings()).unwrap();
        store.append(&rec(0)).unwrap();
        drop(store);
        let path = dir.join(FILE_NAME);
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("{\"id\":");
        std::fs::write(&path, &text).unwrap();
        let contents = TestStore::read_only(&path).unwrap();
        assert_eq!(contents.settings, settings());
        assert_eq!(contents.records, [rec(0)]);
        assert!(contents.incomplete);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    }
}
