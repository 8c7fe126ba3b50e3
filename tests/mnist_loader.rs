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
