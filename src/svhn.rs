//! The SVHN "cropped digits" files (`train_32x32.mat`, `test_32x32.mat`) as three-channel
//! 28x28 digits for the transfer experiment.
//!
//! The files are MATLAB level-5 MAT-files holding `X`, `uint8` of size 32×32×3×N (row,
//! column, channel, image; stored column-major), and `y`, N labels `1..=10` where 10 stands
//! for the digit 0. As the paper's reference code, images stay RGB and are centre-cropped to
//! 28×28 (rows and columns 2..30), and a label becomes `y mod 10`.
//!
//! The reader covers the subset of the format these files use: a 128-byte header (either
//! byte order), top-level `miMATRIX` elements, zlib-compressed (`miCOMPRESSED`) or not, of
//! numeric classes with real data stored in any numeric type (MATLAB stores a `double` array
//! of small integers as `miUINT8`); other variables are skipped. No MAT-file crate bounds
//! the memory a compressed element may inflate to, so this reader is written here: every
//! size read from a file is checked against the bytes really present, and a compressed
//! element may not inflate to more than a limit ([`DEFAULT_LIMIT`] unless given). Every
//! malformed file gives a [`SvhnError`] naming the file; nothing panics. MAT v7.3 files
//! (HDF5) are refused with a message saying so.

use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::ZlibDecoder;
use thiserror::Error;

use crate::images::{ColourImages, PLANE, VALUES};

/// The most bytes one compressed element may inflate to by default (1 GiB): SVHN's training
/// file holds 73,257 images of 3,072 bytes (225 MB).
pub const DEFAULT_LIMIT: usize = 1 << 30;

/// The side of an SVHN image.
pub const SIDE: usize = 32;
/// The side after the centre crop.
pub const CROPPED: usize = 28;

/// Why an SVHN file could not be read.
#[derive(Debug, Error)]
pub enum SvhnError {
    /// The file could not be read.
    #[error("{}: cannot read file: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Not a MAT-file of level 5 (or an HDF5-based v7.3 one).
    #[error("{}: not a MATLAB level-5 MAT-file: {reason}", .path.display())]
    NotMat5 {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// An element claims more bytes than the file holds.
    #[error("{}: truncated: {what} at byte {offset} needs {needed} bytes, {available} remain", .path.display())]
    Truncated {
        /// The file.
        path: PathBuf,
        /// What was being read.
        what: &'static str,
        /// Its position (in the file, or in the inflated element).
        offset: usize,
        /// Bytes needed.
        needed: u64,
        /// Bytes present.
        available: usize,
    },
    /// A compressed element is not valid zlib data.
    #[error("{}: corrupt compressed element at byte {offset}: {source}", .path.display())]
    CorruptCompressed {
        /// The file.
        path: PathBuf,
        /// The element's position.
        offset: usize,
        /// The cause.
        source: std::io::Error,
    },
    /// A compressed element inflates to more than the limit.
    #[error("{}: the compressed element at byte {offset} inflates to more than {limit} bytes", .path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The element's position.
        offset: usize,
        /// The limit.
        limit: usize,
    },
    /// A matrix element that does not follow the format.
    #[error("{}: malformed variable `{name}`: {reason}", .path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// The variable (empty when its name was not read yet).
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A variable the file must hold is absent.
    #[error("{}: no variable `{name}` (SVHN's files hold `X` and `y`)", .path.display())]
    Missing {
        /// The file.
        path: PathBuf,
        /// The variable.
        name: &'static str,
    },
    /// `X` is not `uint8` 32×32×3×N, or `y` not N labels.
    #[error("{}: variable `{name}` {found}, expected {expected}", .path.display())]
    WrongShape {
        /// The file.
        path: PathBuf,
        /// The variable.
        name: &'static str,
        /// What it is.
        found: String,
        /// What it must be.
        expected: String,
    },
    /// A label outside `1..=10`.
    #[error("{}: label {value} at index {index} is not an integer in 1..=10", .path.display())]
    BadLabel {
        /// The file.
        path: PathBuf,
        /// Which label.
        index: usize,
        /// Its value.
        value: f64,
    },
    /// A file is missing from the directory.
    #[error("{}: not found", .path.display())]
    NotFound {
        /// The file looked for.
        path: PathBuf,
    },
}

/// SVHN's cropped digits: a training and a test split, three channels, 28x28.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Svhn {
    /// From `train_32x32.mat` (73,257 digits).
    pub train: ColourImages,
    /// From `test_32x32.mat` (26,032 digits).
    pub test: ColourImages,
}

impl Svhn {
    /// Loads `train_32x32.mat` and `test_32x32.mat` from `dir`.
    ///
    /// # Errors
    /// See [`SvhnError`].
    ///
    /// ```
    /// use arelu::svhn::{Svhn, SvhnError};
    /// let err = Svhn::load_dir("/nonexistent").unwrap_err();
    /// assert!(matches!(err, SvhnError::NotFound { .. }));
    /// ```
    pub fn load_dir(dir: impl AsRef<Path>) -> Result<Self, SvhnError> {
        let dir = dir.as_ref();
        let file = |name: &str| {
            let path = dir.join(name);
            if path.exists() {
                load_file(&path, DEFAULT_LIMIT)
            } else {
                Err(SvhnError::NotFound { path })
            }
        };
        Ok(Self {
            train: file("train_32x32.mat")?,
            test: file("test_32x32.mat")?,
        })
    }
}

/// Reads one SVHN file into centre-cropped three-channel images and labels `y mod 10`; no
/// compressed element may inflate to more than `limit` bytes.
///
/// # Errors
/// See [`SvhnError`].
pub fn load_file(path: impl AsRef<Path>, limit: usize) -> Result<ColourImages, SvhnError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| SvhnError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&bytes, path, limit)
}

/// [`load_file`] on the bytes of a file (`path` names it in errors).
///
/// # Errors
/// See [`SvhnError`].
pub fn parse(bytes: &[u8], path: &Path, limit: usize) -> Result<ColourImages, SvhnError> {
    let mut reader = Reader {
        path,
        limit,
        x: None,
        y: None,
    };
    let big_endian = reader.header(bytes)?;
    reader.elements(bytes, 128, big_endian, true)?;
    let x = reader.x.take().ok_or(SvhnError::Missing {
        path: path.into(),
        name: "X",
    })?;
    let y = reader.y.take().ok_or(SvhnError::Missing {
        path: path.into(),
        name: "y",
    })?;
    images(x, y, path)
}

/// A numeric variable: its MATLAB class, dimensions and real values in storage order.
struct Variable {
    class: u8,
    dims: Vec<usize>,
    values: Values,
}

enum Values {
    Bytes(Vec<u8>),
    Numbers(Vec<f64>),
}

impl Values {
    fn len(&self) -> usize {
        match self {
            Values::Bytes(v) => v.len(),
            Values::Numbers(v) => v.len(),
        }
    }
}

const MI_INT8: u32 = 1;
const MI_UINT8: u32 = 2;
const MI_INT32: u32 = 5;
const MI_UINT32: u32 = 6;
const MI_MATRIX: u32 = 14;
const MI_COMPRESSED: u32 = 15;
const MX_UINT8_CLASS: u8 = 9;

/// Bytes per value of a numeric data type; `None` for the others.
fn numeric_size(data_type: u32) -> Option<usize> {
    match data_type {
        1 | 2 => Some(1),
        3 | 4 => Some(2),
        5..=7 => Some(4),
        9 | 12 | 13 => Some(8),
        _ => None,
    }
}

struct Reader<'p> {
    path: &'p Path,
    limit: usize,
    x: Option<Variable>,
    y: Option<Variable>,
}

/// A data element's tag and where its data lies.
struct Element {
    data_type: u32,
    start: usize,
    len: usize,
    /// Where the next element begins.
    next: usize,
}

impl Reader<'_> {
    fn malformed(&self, name: &str, reason: impl Into<String>) -> SvhnError {
        SvhnError::Malformed {
            path: self.path.into(),
            name: name.into(),
            reason: reason.into(),
        }
    }

    /// Checks the 128-byte header; returns whether the file is big-endian.
    fn header(&self, bytes: &[u8]) -> Result<bool, SvhnError> {
        let not = |reason: String| SvhnError::NotMat5 {
            path: self.path.into(),
            reason,
        };
        if bytes.starts_with(b"\x89HDF") || bytes.get(512..516) == Some(b"\x89HDF") {
            return Err(not(
                "an HDF5-based MAT v7.3 file; save it with `-v7` (or `-v6`)".into(),
            ));
        }
        if bytes.len() < 128 {
            return Err(not(format!("{} bytes, the header needs 128", bytes.len())));
        }
        if bytes.starts_with(b"MATLAB 7.3") {
            return Err(not(
                "an HDF5-based MAT v7.3 file; save it with `-v7` (or `-v6`)".into(),
            ));
        }
        let big_endian = match &bytes[126..128] {
            b"IM" => false,
            b"MI" => true,
            other => {
                return Err(not(format!(
                    "byte-order mark {other:02x?}, expected \"IM\" or \"MI\""
                )))
            }
        };
        let version = self.u16_at(&bytes[124..126], big_endian);
        if version != 0x0100 {
            return Err(not(format!("version 0x{version:04x}, expected 0x0100")));
        }
        Ok(big_endian)
    }

    fn u16_at(&self, b: &[u8], big: bool) -> u16 {
        let a = [b[0], b[1]];
        if big {
            u16::from_be_bytes(a)
        } else {
            u16::from_le_bytes(a)
        }
    }

    fn u32_at(&self, b: &[u8], big: bool) -> u32 {
        let a = [b[0], b[1], b[2], b[3]];
        if big {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        }
    }

    /// The tag at `at` in `bytes` (long or small format), checked against the bytes present.
    fn tag(
        &self,
        bytes: &[u8],
        at: usize,
        big: bool,
        what: &'static str,
    ) -> Result<Element, SvhnError> {
        let truncated = |needed: u64| SvhnError::Truncated {
            path: self.path.into(),
            what,
            offset: at,
            needed,
            available: bytes.len().saturating_sub(at),
        };
        let head = bytes.get(at..at + 8).ok_or_else(|| truncated(8))?;
        let first = self.u32_at(&head[0..4], big);
        if first >> 16 != 0 {
            // Small data element: type and size packed in 4 bytes, data in the next 4.
            let len = (first >> 16) as usize;
            if len > 4 {
                return Err(self.malformed("", format!("small element of {len} bytes at {at}")));
            }
            return Ok(Element {
                data_type: first & 0xffff,
                start: at + 4,
                len,
                next: at + 8,
            });
        }
        let len = self.u32_at(&head[4..8], big) as usize;
        let start = at + 8;
        if bytes.len() - start < len {
            return Err(truncated(8 + len as u64));
        }
        // Elements are padded to 8 bytes, except compressed ones.
        let padded = if first == MI_COMPRESSED {
            len
        } else {
            len.div_ceil(8) * 8
        };
        Ok(Element {
            data_type: first,
            start,
            len,
            next: (start + padded).min(bytes.len()),
        })
    }

    /// Reads the elements of `bytes` from `at` to its end; `top` allows compressed ones.
    fn elements(
        &mut self,
        bytes: &[u8],
        mut at: usize,
        big: bool,
        top: bool,
    ) -> Result<(), SvhnError> {
        while at < bytes.len() {
            let e = self.tag(bytes, at, big, "a data element")?;
            let data = &bytes[e.start..e.start + e.len];
            match e.data_type {
                MI_COMPRESSED if top => {
                    let inflated = self.inflate(data, at)?;
                    self.elements(&inflated, 0, big, false)?;
                }
                MI_MATRIX => self.matrix(data, big)?,
                // Anything else at the top level is not a variable: skipped.
                _ => {}
            }
            at = e.next;
        }
        Ok(())
    }

    fn inflate(&self, data: &[u8], at: usize) -> Result<Vec<u8>, SvhnError> {
        let mut out = Vec::new();
        let mut decoder = ZlibDecoder::new(data).take(self.limit as u64 + 1);
        decoder
            .read_to_end(&mut out)
            .map_err(|source| SvhnError::CorruptCompressed {
                path: self.path.into(),
                offset: at,
                source,
            })?;
        if out.len() > self.limit {
            return Err(SvhnError::TooLarge {
                path: self.path.into(),
                offset: at,
                limit: self.limit,
            });
        }
        Ok(out)
    }

    /// One `miMATRIX`: keeps it when it is `X` or `y`.
    fn matrix(&mut self, m: &[u8], big: bool) -> Result<(), SvhnError> {
        if m.is_empty() {
            return Ok(()); // an empty matrix element: MATLAB's empty array
        }
        let flags = self.tag(m, 0, big, "array flags")?;
        if flags.data_type != MI_UINT32 || flags.len != 8 {
            return Err(self.malformed("", "array flags are not 8 bytes of miUINT32"));
        }
        let flag_word = self.u32_at(&m[flags.start..flags.start + 4], big);
        let class = (flag_word & 0xff) as u8;
        let complex = flag_word & 0x0800 != 0;
        let dims_e = self.tag(m, flags.next, big, "dimensions")?;
        if dims_e.data_type != MI_INT32 || dims_e.len % 4 != 0 {
            return Err(self.malformed("", "dimensions are not miINT32"));
        }
        let name_e = self.tag(m, dims_e.next, big, "array name")?;
        if name_e.data_type != MI_INT8 && name_e.data_type != MI_UINT8 {
            return Err(self.malformed("", "the array name is not miINT8"));
        }
        let name =
            String::from_utf8_lossy(&m[name_e.start..name_e.start + name_e.len]).into_owned();
        if name != "X" && name != "y" {
            return Ok(());
        }
        let mut dims = Vec::with_capacity(dims_e.len / 4);
        for k in 0..dims_e.len / 4 {
            let at = dims_e.start + 4 * k;
            let d = self.u32_at(&m[at..at + 4], big) as i32;
            let d = usize::try_from(d)
                .map_err(|_| self.malformed(&name, format!("negative dimension {d}")))?;
            dims.push(d);
        }
        // Numeric classes are 6 (double) to 15 (uint64); cells, structs, chars and sparse
        // arrays cannot be SVHN's X or y.
        if !(6..=15).contains(&class) {
            return Err(self.malformed(&name, format!("class {class} is not numeric")));
        }
        if complex {
            return Err(self.malformed(&name, "complex values"));
        }
        let count = dims
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or_else(|| self.malformed(&name, format!("dimensions {dims:?} overflow")))?;
        let real = self.tag(m, name_e.next, big, "real part")?;
        let size = numeric_size(real.data_type).ok_or_else(|| {
            self.malformed(
                &name,
                format!("data type {} is not numeric", real.data_type),
            )
        })?;
        if real.len != count.saturating_mul(size) {
            return Err(self.malformed(
                &name,
                format!(
                    "dimensions {dims:?} need {count} values, the data holds {} bytes of \
                     {size}-byte values",
                    real.len
                ),
            ));
        }
        let data = &m[real.start..real.start + real.len];
        let values = if real.data_type == MI_UINT8 {
            Values::Bytes(data.to_vec())
        } else {
            Values::Numbers(
                data.chunks_exact(size)
                    .map(|c| number(c, real.data_type, big))
                    .collect(),
            )
        };
        let variable = Variable {
            class,
            dims,
            values,
        };
        if name == "X" {
            self.x = Some(variable);
        } else {
            self.y = Some(variable);
        }
        Ok(())
    }
}

/// One value of numeric data type `t` (its size already checked) as `f64`.
fn number(c: &[u8], t: u32, big: bool) -> f64 {
    macro_rules! read {
        ($ty:ty) => {{
            let mut a = [0u8; std::mem::size_of::<$ty>()];
            a.copy_from_slice(c);
            if big {
                <$ty>::from_be_bytes(a) as f64
            } else {
                <$ty>::from_le_bytes(a) as f64
            }
        }};
    }
    match t {
        1 => read!(i8),
        2 => read!(u8),
        3 => read!(i16),
        4 => read!(u16),
        5 => read!(i32),
        6 => read!(u32),
        7 => read!(f32),
        9 => read!(f64),
        12 => read!(i64),
        _ => read!(u64),
    }
}

/// Crops and relabels.
fn images(x: Variable, y: Variable, path: &Path) -> Result<ColourImages, SvhnError> {
    let shape = |v: &Variable| format!("has class {} and dimensions {:?}", v.class, v.dims);
    let n = match x.dims.as_slice() {
        [SIDE, SIDE, 3, n] if x.class == MX_UINT8_CLASS => *n,
        // MATLAB drops a trailing singleton dimension: a file of one image is 32x32x3.
        [SIDE, SIDE, 3] if x.class == MX_UINT8_CLASS => 1,
        _ => {
            return Err(SvhnError::WrongShape {
                path: path.into(),
                name: "X",
                found: shape(&x),
                expected: "class 9 (uint8) and dimensions [32, 32, 3, N]".into(),
            })
        }
    };
    let Values::Bytes(pixels) = x.values else {
        return Err(SvhnError::WrongShape {
            path: path.into(),
            name: "X",
            found: "stored in a type other than miUINT8".into(),
            expected: "uint8 data".into(),
        });
    };
    let y_len = y.values.len();
    let vector = y.dims.iter().filter(|&&d| d != 1).count() <= 1;
    if !vector || y_len != n {
        return Err(SvhnError::WrongShape {
            path: path.into(),
            name: "y",
            found: shape(&y),
            expected: format!("{n} labels (one per image of X)"),
        });
    }
    let mut labels = Vec::with_capacity(n);
    for index in 0..n {
        let value = match &y.values {
            Values::Bytes(b) => f64::from(b[index]),
            Values::Numbers(v) => v[index],
        };
        if !(value.fract() == 0.0 && (1.0..=10.0).contains(&value)) {
            return Err(SvhnError::BadLabel {
                path: path.into(),
                index,
                value,
            });
        }
        labels.push(value as u8 % 10);
    }
    let offset = (SIDE - CROPPED) / 2;
    let mut out = Vec::with_capacity(n * VALUES);
    for image in pixels.chunks_exact(SIDE * SIDE * 3) {
        for ch in 0..3 {
            let plane = &image[ch * SIDE * SIDE..(ch + 1) * SIDE * SIDE];
            for r in offset..offset + CROPPED {
                for c in offset..offset + CROPPED {
                    // Column-major: the row index runs fastest.
                    out.push(plane[r + SIDE * c]);
                }
            }
        }
    }
    debug_assert_eq!(out.len(), n * 3 * PLANE);
    ColourImages::from_parts(out, labels).map_err(|e| SvhnError::Malformed {
        path: path.into(),
        name: "X".into(),
        reason: e.to_string(),
    })
}
