//! The SVHN loader on MAT-files written here: the good cases (plain, compressed, big-endian,
//! labels stored as bytes or doubles, other variables skipped) and each malformed case,
//! which must give its typed error naming the file.

use std::io::Write;
use std::path::PathBuf;

use arelu::svhn::{load_file, Svhn, SvhnError, DEFAULT_LIMIT};
use flate2::write::ZlibEncoder;
use flate2::Compression;

const MI_INT8: u32 = 1;
const MI_UINT8: u32 = 2;
const MI_INT32: u32 = 5;
const MI_UINT32: u32 = 6;
const MI_DOUBLE: u32 = 9;
const MI_MATRIX: u32 = 14;
const MI_COMPRESSED: u32 = 15;
const DOUBLE_CLASS: u32 = 6;
const UINT8_CLASS: u32 = 9;

#[derive(Clone, Copy)]
struct Order {
    big: bool,
}

impl Order {
    fn u32(self, v: u32) -> [u8; 4] {
        if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    /// A long-format element, padded to 8 bytes.
    fn element(self, data_type: u32, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend(self.u32(data_type));
        out.extend(self.u32(data.len() as u32));
        out.extend(data);
        while out.len() % 8 != 0 {
            out.push(0);
        }
        out
    }

    /// A numeric matrix with real data of `data_type`.
    fn matrix(self, name: &str, class: u32, dims: &[i32], data_type: u32, data: &[u8]) -> Vec<u8> {
        let mut body = Vec::new();
        let mut flags = Vec::new();
        flags.extend(self.u32(class));
        flags.extend(self.u32(0));
        body.extend(self.element(MI_UINT32, &flags));
        let dims: Vec<u8> = dims.iter().flat_map(|&d| self.u32(d as u32)).collect();
        body.extend(self.element(MI_INT32, &dims));
        body.extend(self.element(MI_INT8, name.as_bytes()));
        body.extend(self.element(data_type, data));
        self.element(MI_MATRIX, &body)
    }

    fn header(self) -> Vec<u8> {
        let mut h = b"MATLAB 5.0 MAT-file, written by the arelu tests".to_vec();
        h.resize(116, b' ');
        h.extend([0u8; 8]);
        if self.big {
            h.extend(0x0100u16.to_be_bytes());
            h.extend(b"MI");
        } else {
            h.extend(0x0100u16.to_le_bytes());
            h.extend(b"IM");
        }
        h
    }

    fn compressed(self, element: &[u8]) -> Vec<u8> {
        let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
        z.write_all(element).unwrap();
        let z = z.finish().unwrap();
        let mut out = Vec::new();
        out.extend(self.u32(MI_COMPRESSED));
        out.extend(self.u32(z.len() as u32));
        out.extend(z);
        out
    }
}

const LE: Order = Order { big: false };

/// Pixel `(row, col, channel)` of image `n` of the fixture.
fn pixel(r: usize, c: usize, ch: usize, n: usize) -> u8 {
    ((r + 3 * c + 7 * ch + 11 * n) % 256) as u8
}

/// X of `n` images, column-major 32x32x3xN.
fn x_bytes(n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(3072 * n);
    for img in 0..n {
        for ch in 0..3 {
            for c in 0..32 {
                for r in 0..32 {
                    out.push(pixel(r, c, ch, img));
                }
            }
        }
    }
    out
}

fn x_element(order: Order, n: usize) -> Vec<u8> {
    order.matrix(
        "X",
        UINT8_CLASS,
        &[32, 32, 3, n as i32],
        MI_UINT8,
        &x_bytes(n),
    )
}

/// y as MATLAB saves it: class double, values stored as miUINT8.
fn y_element(order: Order, labels: &[u8]) -> Vec<u8> {
    order.matrix(
        "y",
        DOUBLE_CLASS,
        &[labels.len() as i32, 1],
        MI_UINT8,
        labels,
    )
}

fn file(order: Order, elements: &[Vec<u8>]) -> Vec<u8> {
    let mut out = order.header();
    for e in elements {
        out.extend(e);
    }
    out
}

/// Writes `bytes` to `{tag}.mat` in a fresh temporary directory, removed when the returned
/// `TempDir` is dropped.
fn write(tag: &str, bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{tag}.mat"));
    std::fs::write(&path, bytes).unwrap();
    (dir, path)
}

fn check_images(images: &arelu::experiment::transfer::ColourImages, labels: &[u8]) {
    assert_eq!(images.labels(), labels);
    for n in 0..images.len() {
        let img = images.image(n);
        for ch in 0..3 {
            for r in 0..28 {
                for c in 0..28 {
                    assert_eq!(
                        img[ch * 784 + r * 28 + c],
                        pixel(r + 2, c + 2, ch, n),
                        "image {n} channel {ch} ({r}, {c})"
                    );
                }
            }
        }
    }
}

#[test]
fn plain_file_is_cropped_and_relabelled() {
    let (_dir, path) = write(
        "plain",
        &file(LE, &[x_element(LE, 3), y_element(LE, &[10, 3, 1])]),
    );
    let images = load_file(&path, DEFAULT_LIMIT).unwrap();
    check_images(&images, &[0, 3, 1]);
}

#[test]
fn compressed_big_endian_and_double_labels_and_other_variables() {
    for big in [false, true] {
        let o = Order { big };
        let labels: Vec<u8> = [7.0f64, 10.0]
            .iter()
            .flat_map(|v| {
                if big {
                    v.to_be_bytes()
                } else {
                    v.to_le_bytes()
                }
            })
            .collect();
        let y = o.matrix("y", DOUBLE_CLASS, &[2, 1], MI_DOUBLE, &labels);
        let other = o.matrix("note", DOUBLE_CLASS, &[1, 1], MI_UINT8, &[42]);
        let bytes = file(
            o,
            &[
                o.compressed(&other),
                o.compressed(&y),
                o.compressed(&x_element(o, 2)),
            ],
        );
        let (_dir, path) = write(&format!("compressed-{big}"), &bytes);
        check_images(&load_file(&path, DEFAULT_LIMIT).unwrap(), &[7, 0]);
    }
}

#[test]
fn a_directory_of_the_two_files_loads() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("train_32x32.mat"),
        file(LE, &[x_element(LE, 2), y_element(LE, &[1, 2])]),
    )
    .unwrap();
    let err = Svhn::load_dir(dir.path()).unwrap_err();
    assert!(matches!(err, SvhnError::NotFound { .. }), "{err}");
    assert!(err.to_string().contains("test_32x32.mat"), "{err}");
    std::fs::write(
        dir.path().join("test_32x32.mat"),
        file(LE, &[x_element(LE, 1), y_element(LE, &[5])]),
    )
    .unwrap();
    let svhn = Svhn::load_dir(dir.path()).unwrap();
    assert_eq!((svhn.train.len(), svhn.test.len()), (2, 1));
    assert_eq!(svhn.test.labels(), &[5]);
}

/// Loads `bytes` (written to a file named after `tag`) and returns the error, checking that
/// its message names the file.
fn error_of(tag: &str, bytes: &[u8], limit: usize) -> SvhnError {
    let (_dir, path) = write(tag, bytes);
    let err = load_file(&path, limit).expect_err(tag);
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{tag}: {err}"
    );
    err
}

fn good() -> Vec<u8> {
    file(LE, &[x_element(LE, 2), y_element(LE, &[1, 2])])
}

#[test]
fn header_errors() {
    assert!(matches!(
        error_of("empty", b"", DEFAULT_LIMIT),
        SvhnError::NotMat5 { .. }
    ));
    assert!(matches!(
        error_of("short", &good()[..100], DEFAULT_LIMIT),
        SvhnError::NotMat5 { .. }
    ));
    let mut bad_mark = good();
    bad_mark[126..128].copy_from_slice(b"XX");
    assert!(matches!(
        error_of("mark", &bad_mark, DEFAULT_LIMIT),
        SvhnError::NotMat5 { .. }
    ));
    let mut bad_version = good();
    bad_version[124..126].copy_from_slice(&0x0200u16.to_le_bytes());
    assert!(matches!(
        error_of("version", &bad_version, DEFAULT_LIMIT),
        SvhnError::NotMat5 { .. }
    ));
    let mut hdf5 = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, HDF5 schema 1.00".to_vec();
    hdf5.resize(512, b' ');
    hdf5.extend(b"\x89HDF\r\n\x1a\n");
    let err = error_of("v73", &hdf5, DEFAULT_LIMIT);
    assert!(err.to_string().contains("v7.3"), "{err}");
}

#[test]
fn truncated_and_compressed_errors() {
    let g = good();
    for cut in [g.len() - 1, g.len() - 3000, 130, 140] {
        let err = error_of(&format!("cut{cut}"), &g[..cut], DEFAULT_LIMIT);
        assert!(
            matches!(
                err,
                SvhnError::Truncated { .. } | SvhnError::Malformed { .. }
            ),
            "cut at {cut}: {err}"
        );
    }
    let mut corrupt = LE.compressed(&x_element(LE, 2));
    let n = corrupt.len();
    for b in &mut corrupt[n - 40..n - 4] {
        *b ^= 0x5a;
    }
    let err = error_of("zlib", &file(LE, &[corrupt]), DEFAULT_LIMIT);
    assert!(matches!(err, SvhnError::CorruptCompressed { .. }), "{err}");
    let big = file(
        LE,
        &[LE.compressed(&x_element(LE, 2)), y_element(LE, &[1, 2])],
    );
    let err = error_of("limit", &big, 4096);
    assert!(
        matches!(err, SvhnError::TooLarge { limit: 4096, .. }),
        "{err}"
    );
    // The same file within the limit loads.
    let (_dir, path) = write("limit-ok", &big);
    assert!(load_file(path, 8192).is_ok());
}

#[test]
fn variable_errors() {
    let err = error_of("no-x", &file(LE, &[y_element(LE, &[1])]), DEFAULT_LIMIT);
    assert!(matches!(err, SvhnError::Missing { name: "X", .. }), "{err}");
    let err = error_of("no-y", &file(LE, &[x_element(LE, 1)]), DEFAULT_LIMIT);
    assert!(matches!(err, SvhnError::Missing { name: "y", .. }), "{err}");

    let wrong_dims = LE.matrix("X", UINT8_CLASS, &[28, 28, 3, 1], MI_UINT8, &[0; 2352]);
    let err = error_of(
        "dims",
        &file(LE, &[wrong_dims, y_element(LE, &[1])]),
        DEFAULT_LIMIT,
    );
    assert!(
        matches!(err, SvhnError::WrongShape { name: "X", .. }),
        "{err}"
    );

    let double_x = LE.matrix("X", DOUBLE_CLASS, &[32, 32, 3, 1], MI_UINT8, &[0; 3072]);
    let err = error_of(
        "class",
        &file(LE, &[double_x, y_element(LE, &[1])]),
        DEFAULT_LIMIT,
    );
    assert!(
        matches!(err, SvhnError::WrongShape { name: "X", .. }),
        "{err}"
    );

    let err = error_of(
        "count",
        &file(LE, &[x_element(LE, 2), y_element(LE, &[1, 2, 3])]),
        DEFAULT_LIMIT,
    );
    assert!(
        matches!(err, SvhnError::WrongShape { name: "y", .. }),
        "{err}"
    );

    for (tag, label) in [("label0", 0u8), ("label11", 11)] {
        let err = error_of(
            tag,
            &file(LE, &[x_element(LE, 2), y_element(LE, &[1, label])]),
            DEFAULT_LIMIT,
        );
        assert!(matches!(err, SvhnError::BadLabel { index: 1, .. }), "{err}");
    }
    let half = LE.matrix("y", DOUBLE_CLASS, &[1, 1], MI_DOUBLE, &2.5f64.to_le_bytes());
    let err = error_of(
        "fraction",
        &file(LE, &[x_element(LE, 1), half]),
        DEFAULT_LIMIT,
    );
    assert!(matches!(err, SvhnError::BadLabel { index: 0, .. }), "{err}");
}

#[test]
fn malformed_matrices_are_errors_not_panics_or_huge_allocations() {
    // Dimensions whose product overflows, negative dimensions, and data of the wrong length:
    // all must be refused before any allocation of the claimed size.
    let overflow = LE.matrix(
        "X",
        UINT8_CLASS,
        &[i32::MAX, i32::MAX, i32::MAX, 3],
        MI_UINT8,
        &[0; 8],
    );
    let negative = LE.matrix("X", UINT8_CLASS, &[32, 32, 3, -1], MI_UINT8, &[0; 8]);
    let short = LE.matrix("X", UINT8_CLASS, &[32, 32, 3, 2], MI_UINT8, &[0; 3072]);
    let text = LE.matrix("X", UINT8_CLASS, &[32, 32, 3, 1], 16, &[0; 3072]);
    for (tag, m) in [
        ("overflow", overflow),
        ("negative", negative),
        ("short", short),
        ("type", text),
    ] {
        let err = error_of(tag, &file(LE, &[m, y_element(LE, &[1])]), DEFAULT_LIMIT);
        assert!(matches!(err, SvhnError::Malformed { .. }), "{tag}: {err}");
    }
    // An element claiming 4 GiB in a small file.
    let mut huge = good();
    let at = 128 + 4;
    huge[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    let err = error_of("claims", &huge, DEFAULT_LIMIT);
    assert!(matches!(err, SvhnError::Truncated { .. }), "{err}");
}
