//! The MNIST loader through the public API only, as a dependent crate sees it.

use std::path::Path;

use arelu::mnist::{parse_idx_labels, read_idx_file, Mnist, MnistError, MnistSplit};

#[test]
fn shipped_subset_from_outside_the_crate() {
    let m = Mnist::load_shipped().expect("shipped subset loads");
    assert_eq!((m.train.len(), m.test.len()), (5_000, 1_000));
    assert_eq!(m.train.labels[0], 5);
    assert!(m.train.labels.iter().chain(&m.test.labels).all(|&l| l <= 9));
    let x = m.train.pixels_f32(0);
    assert_eq!(x.len(), 784);
    assert!(x.iter().all(|&p| (0.0..=1.0).contains(&p)));
    assert!(x.contains(&1.0), "MNIST digits reach full intensity");
    let limited: MnistSplit = m.train.take(123);
    assert_eq!(limited.len(), 123);
    assert_eq!(limited.images.len(), 123 * 784);
}

#[test]
fn shipped_files_load_from_the_data_dir() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist-subset");
    let labels_path = dir.join("train-labels-idx1-ubyte.gz");
    let labels = parse_idx_labels(&read_idx_file(&labels_path).unwrap(), &labels_path).unwrap();
    assert_eq!(labels.len(), 5_000);
    assert_eq!(&labels[..8], &[5, 0, 4, 1, 9, 2, 1, 3]);
}

#[test]
fn errors_are_std_errors_naming_the_file() {
    fn assert_error<E: std::error::Error + Send + Sync + 'static>(_: &E) {}
    let err = Mnist::load_dir("/definitely/not/a/mnist/dir").unwrap_err();
    assert_error(&err);
    assert!(matches!(err, MnistError::NotFound { .. }), "{err:?}");
    assert!(
        err.to_string().contains("/definitely/not/a/mnist/dir"),
        "{err}"
    );
}

// Bounded input: every bad file below is refused with a typed error naming it, without
// reading (or allocating) more than its header declares, and without waiting on it.

use std::io::Write;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use arelu::mnist::{read_idx_reader, MAX_DECOMPRESSED_BYTES, TEST_LABELS, TRAIN_IMAGES};

fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    bytes.extend_from_slice(data);
    bytes
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// `read_idx_file(path)` on another thread, failing the test instead of hanging if it does
/// not answer within `seconds`.
fn read_with_deadline(path: PathBuf, seconds: u64) -> Result<Vec<u8>, MnistError> {
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = send.send(read_idx_file(&path));
    });
    receive
        .recv_timeout(Duration::from_secs(seconds))
        .expect("the loader answers instead of blocking")
}

fn assert_names(err: &MnistError, path: &Path) {
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
}

#[test]
fn an_oversized_sparse_plain_file_is_refused_unread() {
    let dir = tempfile::tempdir().unwrap();
    // 10 labels declared, then a hole: 1.5 GB, and 1 TiB, which no machine could read into
    // memory. Sparse files: nothing is written to disk.
    for len in [1_500_000_000u64, 1 << 40] {
        let path = dir.path().join(format!("labels-{len}"));
        std::fs::write(&path, idx(&[10], &[1; 10])).unwrap();
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(len)
            .unwrap();
        let err = read_with_deadline(path.clone(), 30).unwrap_err();
        assert!(
            matches!(&err, MnistError::TrailingBytes { expected: 10, extra, .. }
                if *extra as u64 == len - 18),
            "{err:?}"
        );
        assert_names(&err, &path);
    }
}

#[test]
fn a_declared_size_beyond_the_cap_is_refused_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    // 60,000 × 28 × 28 is fine; u32::MAX × 28 × 28 (3.4 TB) is not, gzipped or not.
    let huge = idx(&[u32::MAX, 28, 28], &[0; 100]);
    for (name, bytes) in [("plain", huge.clone()), ("gz", gzip(&huge))] {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let err = read_idx_file(&path).unwrap_err();
        assert!(
            matches!(&err, MnistError::DeclaredTooLarge { bytes, limit, .. }
                if *bytes == u64::from(u32::MAX) * 784 && *limit == MAX_DECOMPRESSED_BYTES),
            "{err:?}"
        );
        assert_names(&err, &path);
    }
}

#[test]
fn a_declared_size_larger_than_the_data_is_truncated_data() {
    let dir = tempfile::tempdir().unwrap();
    // 200 million labels declared (under the cap), 4 present: plain and gzipped.
    let short = idx(&[200_000_000], &[1, 2, 3, 4]);
    for (name, bytes) in [("plain", short.clone()), ("gz", gzip(&short))] {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let err = read_idx_file(&path).unwrap_err();
        assert!(
            matches!(
                &err,
                MnistError::TruncatedData {
                    expected: 200_000_000,
                    found: 4,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_names(&err, &path);
    }
    // Cut inside the header.
    let path = dir.path().join("cut-header");
    std::fs::write(&path, &idx(&[10, 28, 28], &[])[..9]).unwrap();
    let err = read_idx_file(&path).unwrap_err();
    assert!(
        matches!(
            err,
            MnistError::TruncatedHeader {
                len: 9,
                needed: 16,
                ..
            }
        ),
        "{err:?}"
    );
    // The same through a stream of unknown length.
    let err = read_idx_reader(&gzip(&short)[..], Path::new("stream")).unwrap_err();
    assert!(
        matches!(err, MnistError::TruncatedData { found: 4, .. }),
        "{err:?}"
    );
}

#[cfg(unix)]
#[test]
fn a_named_pipe_is_refused_without_waiting_for_a_writer() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join(TRAIN_IMAGES);
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(status.success());
    let err = read_with_deadline(fifo.clone(), 10).unwrap_err();
    assert!(
        matches!(&err, MnistError::NotRegularFile { kind, .. } if kind.contains("FIFO")),
        "{err:?}"
    );
    assert_names(&err, &fifo);
}

#[cfg(unix)]
#[test]
fn a_link_to_dev_zero_is_refused_unread() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("train-images-idx3-ubyte.gz");
    std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
    let err = read_with_deadline(link.clone(), 10).unwrap_err();
    assert!(
        matches!(&err, MnistError::NotRegularFile { kind, .. } if kind.contains("character device")),
        "{err:?}"
    );
    assert_names(&err, &link);
}

#[test]
fn a_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let err = read_idx_file(dir.path()).unwrap_err();
    assert!(
        matches!(&err, MnistError::NotRegularFile { kind, .. } if kind.contains("directory")),
        "{err:?}"
    );
}

/// A complete MNIST-like directory with `train` and `test` 28x28 images, plain files.
fn write_mnist(dir: &Path, train: u32, test: u32) {
    let images = |n: u32| idx(&[n, 28, 28], &vec![9; n as usize * 784]);
    let labels = |n: u32| idx(&[n], &vec![3; n as usize]);
    for (name, bytes) in [
        ("train-images-idx3-ubyte", images(train)),
        ("train-labels-idx1-ubyte", labels(train)),
        ("t10k-images-idx3-ubyte", images(test)),
        (TEST_LABELS, labels(test)),
    ] {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

#[test]
fn an_empty_split_is_refused_naming_its_file() {
    for (train, test, file) in [
        (0, 3, "train-images-idx3-ubyte"),
        (5, 0, "t10k-images-idx3-ubyte"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        write_mnist(dir.path(), train, test);
        let err = Mnist::load_dir(dir.path()).unwrap_err();
        assert!(
            matches!(&err, MnistError::EmptySplit { path } if path.ends_with(file)),
            "{err:?}"
        );
        assert_names(&err, &dir.path().join(file));
    }
    // The same directory with images in both splits loads.
    let dir = tempfile::tempdir().unwrap();
    write_mnist(dir.path(), 5, 3);
    let m = Mnist::load_dir(dir.path()).unwrap();
    assert_eq!((m.train.len(), m.test.len()), (5, 3));
    assert!(m.train.images.iter().all(|&p| p == 9));
}

#[test]
fn files_read_by_the_bounded_loader_equal_the_in_memory_parse() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist-subset");
    for name in ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"] {
        let path = dir.join(name);
        let raw = std::fs::read(&path).unwrap();
        let expected = arelu::mnist::gunzip_if_needed(&raw, &path).unwrap();
        assert_eq!(read_idx_file(&path).unwrap(), expected.as_ref());
        assert_eq!(read_idx_reader(&raw[..], &path).unwrap(), expected.as_ref());
        // and the decompressed file, read plain
        let plain = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(plain.path(), expected.as_ref()).unwrap();
        assert_eq!(read_idx_file(plain.path()).unwrap(), expected.as_ref());
    }
}
