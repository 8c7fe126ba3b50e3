//! Feeds arbitrary bytes to the MNIST IDX parsers, directly and through the
//! gzip path. Every input must give `Ok` or a typed `MnistError`, never a
//! panic, and an `Ok` must be self-consistent.
#![no_main]

use std::path::Path;

use arelu::mnist::{
    gunzip_if_needed_with_limit, parse_idx_images, parse_idx_labels, MnistError, MnistSplit,
};
use libfuzzer_sys::fuzz_target;

/// Small cap so that gzip bombs stay cheap while fuzzing; the cap logic is
/// the same as with the default 256 MiB.
const LIMIT: u64 = 1 << 20;

fn check_images(bytes: &[u8], file: &Path) {
    if let Ok(img) = parse_idx_images(bytes, file) {
        assert_eq!(img.pixels.len(), img.count * img.rows * img.cols);
        assert_eq!(bytes.len(), 16 + img.pixels.len());
    }
}

fn check_labels(bytes: &[u8], file: &Path) {
    if let Ok(labels) = parse_idx_labels(bytes, file) {
        assert!(labels.iter().all(|&l| l <= 9));
        assert_eq!(bytes.len(), 8 + labels.len());
    }
}

fuzz_target!(|data: &[u8]| {
    let file = Path::new("fuzz-input");

    // Raw parsers.
    check_images(data, file);
    check_labels(data, file);

    // Gzip path (a no-op borrow when `data` is not gzip).
    match gunzip_if_needed_with_limit(data, file, LIMIT) {
        Ok(plain) => {
            assert!(plain.len() as u64 <= LIMIT);
            check_images(&plain, file);
            check_labels(&plain, file);
        }
        Err(MnistError::CorruptGzip { .. } | MnistError::DecompressedTooLarge { .. }) => {}
        Err(other) => panic!("unexpected error from the gzip path: {other:?}"),
    }

    // A whole split: images and labels taken from the two halves of the input.
    if data.len() >= 2 && data.len() <= 1 << 16 {
        let (a, b) = data.split_at(data.len() / 2);
        if let Ok(split) = MnistSplit::from_idx_bytes(a, file, b, file) {
            assert_eq!(split.images.len(), split.len() * split.rows * split.cols);
            if !split.is_empty() {
                let last = split.len() - 1;
                assert_eq!(split.pixels_f32(last).len(), split.rows * split.cols);
                let half = split.clone().take(split.len() / 2);
                assert_eq!(half.len(), split.len() / 2);
            }
        }
    }
});
