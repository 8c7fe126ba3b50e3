//! Feeds arbitrary bytes to the MNIST IDX parsers, directly, through the gzip
//! path and through the bounded streaming reader. Every input must give `Ok` or
//! a typed `MnistError`, never a panic; an `Ok` must be self-consistent, and the
//! streaming reader must accept exactly what the in-memory path accepts.
#![no_main]

use std::path::Path;

use arelu::mnist::{
    gunzip_if_needed_with_limit, parse_idx_images, parse_idx_labels, read_idx_reader, MnistError,
    MnistSplit, MAX_DECOMPRESSED_BYTES,
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

    // The streaming reader: header first, at most the declared size kept.
    let streamed = read_idx_reader(data, file);
    if let Ok(bytes) = &streamed {
        assert!(bytes.len() >= 4 && bytes[..3] == [0, 0, 8]);
        let header_len = 4 + 4 * usize::from(bytes[3]);
        let declared = bytes[4..header_len]
            .chunks_exact(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
            .product::<usize>();
        assert_eq!(bytes.len(), header_len + declared);
    }
    // Whatever it accepts is the gunzipped input itself, and every input the in-memory
    // parsers accept, it accepts too.
    if let Ok(plain) = gunzip_if_needed_with_limit(data, file, MAX_DECOMPRESSED_BYTES) {
        if let Ok(bytes) = &streamed {
            assert_eq!(&bytes[..], &plain[..]);
        }
        if parse_idx_images(&plain, file).is_ok() || parse_idx_labels(&plain, file).is_ok() {
            assert!(streamed.is_ok(), "{streamed:?}");
        }
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
