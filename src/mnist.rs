//! MNIST loading from IDX files, gzipped or not.
//!
//! The MNIST database (LeCun, Cortes, Burges; CC BY-SA 3.0) comes as four IDX
//! files: `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
//! `t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte`, usually gzipped
//! (`.gz`). IDX is big-endian: two zero bytes, an element-type byte (`0x08` =
//! unsigned byte, the only type accepted here), the number of dimensions, one
//! `u32` per dimension, then the data.
//!
//! * [`Mnist::load_shipped`] loads the subset embedded in this crate (the first
//!   5,000 training and first 1,000 test digits of MNIST, see
//!   `data/mnist-subset/README.md`); it works from any working directory.
//! * [`Mnist::load_dir`] loads the four files from a directory, preferring
//!   `NAME.gz` over `NAME` when both exist. Whether a file is gzipped is decided
//!   by its first two bytes (`1f 8b`), not by its name.
//! * [`read_idx_file`], [`parse_idx_images`] and [`parse_idx_labels`] are the
//!   lower-level pieces; they accept images of any size, while [`Mnist`]
//!   requires 28x28.
//!
//! Pixels are exposed raw (`u8`) or normalised to `pixel / 255` in `[0, 1]`
//! (no mean/std normalisation).
//!
//! Malformed input never panics: every problem is reported as a typed
//! [`MnistError`] naming the file. Input is bounded before it is read:
//!
//! * only regular files are read: a named pipe, a device (`/dev/zero`) or a
//!   directory, also behind a symbolic link, is refused without a read;
//! * the IDX header is read and checked first; its dimensions are multiplied
//!   with checked arithmetic, and a declared size above
//!   [`MAX_DECOMPRESSED_BYTES`] is refused;
//! * a plain file's length must equal the header plus the declared size (a
//!   sparse or oversized file is refused before its data is read), and at most
//!   the declared size is ever kept in memory, gzipped or not;
//! * gzip data is decompressed to the end (its checksum is verified) but never
//!   beyond [`MAX_DECOMPRESSED_BYTES`];
//! * a split with no images is refused.
//!
//! ```
//! use arelu::mnist::Mnist;
//!
//! let mnist = Mnist::load_shipped()?;
//! assert_eq!(mnist.train.len(), 5_000);
//! assert_eq!(mnist.test.len(), 1_000);
//! assert_eq!((mnist.train.rows, mnist.train.cols), (28, 28));
//!
//! // The first training digit of MNIST is a 5.
//! assert_eq!(mnist.train.labels[0], 5);
//! let x: Vec<f32> = mnist.train.pixels_f32(0);
//! assert_eq!(x.len(), 28 * 28);
//! assert!(x.iter().all(|&p| (0.0..=1.0).contains(&p)));
//!
//! // `--train-limit 1000`
//! let train = mnist.train.take(1_000);
//! assert_eq!(train.len(), 1_000);
//! for (pixels, label) in train.iter_f32().take(3) {
//!     assert_eq!(pixels.len(), 784);
//!     assert!(label <= 9);
//! }
//! # Ok::<(), arelu::mnist::MnistError>(())
//! ```

use std::borrow::Cow;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Largest IDX data size accepted, and largest decompressed size read from a
/// gzipped IDX file (256 MiB).
///
/// The full MNIST training images are about 47 MB once decompressed.
pub const MAX_DECOMPRESSED_BYTES: u64 = 256 * 1024 * 1024;

/// The gzip magic number.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// IDX element type of unsigned bytes.
const IDX_UBYTE: u8 = 0x08;

/// Standard MNIST file names (without `.gz`).
pub const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
/// Standard MNIST file names (without `.gz`).
pub const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
/// Standard MNIST file names (without `.gz`).
pub const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
/// Standard MNIST file names (without `.gz`).
pub const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";

/// Everything that can go wrong while loading MNIST. Each variant names the
/// file concerned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MnistError {
    /// The file could not be opened or read (missing, permissions, ...).
    #[error("{}: cannot read file: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Neither `NAME.gz` nor `NAME` exists in the directory given to
    /// [`Mnist::load_dir`].
    #[error("{}: not found (neither `{name}.gz` nor `{name}` exists in {})", .dir.join(name).display(), .dir.display())]
    NotFound {
        /// The directory searched.
        dir: PathBuf,
        /// The standard file name, without `.gz`.
        name: String,
    },
    /// The path is not a regular file (a named pipe, a device such as
    /// `/dev/zero`, a directory, ...), also when reached through a symbolic
    /// link. Nothing is read from it.
    #[error("{}: {kind}, not a regular file", .path.display())]
    NotRegularFile {
        /// The file.
        path: PathBuf,
        /// What it is instead, in words ("a named pipe (FIFO)").
        kind: &'static str,
    },
    /// The IDX header declares more data than [`MAX_DECOMPRESSED_BYTES`].
    #[error("{}: IDX header {dims:?} declares {bytes} data bytes, more than the {limit} accepted", .path.display())]
    DeclaredTooLarge {
        /// The file.
        path: PathBuf,
        /// The header dimensions.
        dims: Vec<u32>,
        /// Data bytes the header declares.
        bytes: u64,
        /// The cap, in bytes.
        limit: u64,
    },
    /// A split (train or test) holds no images.
    #[error("{}: holds no images; a split needs at least one", .path.display())]
    EmptySplit {
        /// The images file.
        path: PathBuf,
    },
    /// The file starts with the gzip magic but does not decompress.
    #[error("{}: corrupt gzip data: {source}", .path.display())]
    CorruptGzip {
        /// The file.
        path: PathBuf,
        /// The decompressor's error.
        source: std::io::Error,
    },
    /// The gzip data decompresses to more than `limit` bytes.
    #[error("{}: gzip data decompresses to more than {limit} bytes", .path.display())]
    DecompressedTooLarge {
        /// The file.
        path: PathBuf,
        /// The cap on the decompressed size, in bytes.
        limit: u64,
    },
    /// The file is shorter than its IDX header (4 bytes plus 4 per dimension).
    #[error("{}: truncated IDX header: {len} bytes, the header needs {needed}", .path.display())]
    TruncatedHeader {
        /// The file.
        path: PathBuf,
        /// Length of the (decompressed) file in bytes.
        len: usize,
        /// Bytes the header needs.
        needed: usize,
    },
    /// The first two bytes are not zero: not an IDX file.
    #[error("{}: not an IDX file: magic {magic:02x?}, the first two bytes must be zero", .path.display())]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// The first four bytes (zero-padded if the file is shorter).
        magic: [u8; 4],
    },
    /// The element type (third byte) is not `0x08` (unsigned byte).
    #[error("{}: IDX element type 0x{found:02x}, expected 0x08 (unsigned byte)", .path.display())]
    BadElementType {
        /// The file.
        path: PathBuf,
        /// The element type found.
        found: u8,
    },
    /// The number of dimensions (fourth byte) is wrong: 3 for images, 1 for labels.
    #[error("{}: IDX file has {found} dimension(s), expected {expected}", .path.display())]
    WrongDimensions {
        /// The file.
        path: PathBuf,
        /// Dimensions expected (3 for images, 1 for labels).
        expected: u8,
        /// Dimensions found.
        found: u8,
    },
    /// The product of the header dimensions does not fit in memory sizes.
    #[error("{}: IDX header dimensions {dims:?} describe more data than can be addressed", .path.display())]
    SizeOverflow {
        /// The file.
        path: PathBuf,
        /// The header dimensions.
        dims: Vec<u32>,
    },
    /// There are fewer data bytes than the header dimensions describe.
    #[error("{}: truncated IDX data: header {dims:?} needs {expected} data bytes, found {found}", .path.display())]
    TruncatedData {
        /// The file.
        path: PathBuf,
        /// The header dimensions.
        dims: Vec<u32>,
        /// Data bytes the header describes.
        expected: usize,
        /// Data bytes present.
        found: usize,
    },
    /// There are more data bytes than the header dimensions describe.
    #[error("{}: {extra} trailing byte(s) after the {expected} data bytes described by header {dims:?}", .path.display())]
    TrailingBytes {
        /// The file.
        path: PathBuf,
        /// The header dimensions.
        dims: Vec<u32>,
        /// Data bytes the header describes.
        expected: usize,
        /// Bytes beyond them.
        extra: usize,
    },
    /// A label is not a digit 0-9 (the first offending one is reported).
    #[error("{}: label {value} at index {index} is above 9", .path.display())]
    BadLabel {
        /// The labels file.
        path: PathBuf,
        /// Index of the first bad label.
        index: usize,
        /// Its value.
        value: u8,
    },
    /// The images file and the labels file hold different numbers of items.
    #[error("{} holds {images} images but {} holds {labels} labels", .images_path.display(), .labels_path.display())]
    CountMismatch {
        /// The images file.
        images_path: PathBuf,
        /// Number of images in it.
        images: usize,
        /// The labels file.
        labels_path: PathBuf,
        /// Number of labels in it.
        labels: usize,
    },
    /// [`Mnist`] requires 28x28 images.
    #[error("{}: images are {rows}x{cols}, MNIST needs 28x28", .path.display())]
    WrongImageSize {
        /// The images file.
        path: PathBuf,
        /// Rows per image found.
        rows: usize,
        /// Columns per image found.
        cols: usize,
    },
}

/// Reads an IDX file of unsigned bytes, gunzipping it when it starts with the
/// gzip magic, and returns its bytes (header and data).
///
/// The input is bounded before anything large is read or allocated: the file
/// must be a regular file (a FIFO, a device such as `/dev/zero` or a directory
/// is refused without reading from it, also behind a symbolic link); the IDX
/// header is read and checked first; a plain file's length must match the
/// header's declared size exactly; and no more than the declared size, itself
/// at most [`MAX_DECOMPRESSED_BYTES`], is ever kept in memory. Gzip data is
/// decompressed to the end (so that its checksum is verified), counting but not
/// keeping anything beyond the declared size.
///
/// # Errors
/// [`MnistError::Io`] when the file cannot be opened or read,
/// [`MnistError::NotRegularFile`], [`MnistError::CorruptGzip`], the header
/// errors ([`MnistError::BadMagic`], [`MnistError::BadElementType`],
/// [`MnistError::TruncatedHeader`], [`MnistError::SizeOverflow`],
/// [`MnistError::DeclaredTooLarge`]), and [`MnistError::TruncatedData`],
/// [`MnistError::TrailingBytes`] or [`MnistError::DecompressedTooLarge`] when
/// the data does not match the header.
///
/// ```
/// use std::path::Path;
/// use arelu::mnist::{parse_idx_labels, read_idx_file};
///
/// let path = Path::new(env!("CARGO_MANIFEST_DIR"))
///     .join("data/mnist-subset/t10k-labels-idx1-ubyte.gz");
/// let bytes = read_idx_file(&path)?;
/// assert_eq!(bytes.len(), 8 + 1_000);
/// assert_eq!(parse_idx_labels(&bytes, &path)?[0], 7);
/// # Ok::<(), arelu::mnist::MnistError>(())
/// ```
pub fn read_idx_file(path: impl AsRef<Path>) -> Result<Vec<u8>, MnistError> {
    let path = path.as_ref();
    let idx = read_idx(path, None)?;
    let mut bytes = idx.header;
    bytes.extend_from_slice(&idx.data);
    Ok(bytes)
}

/// [`read_idx_file`] for any byte stream (standard input, a network stream):
/// gunzipped when it starts with the gzip magic, its IDX header checked
/// before any data is read, at most the declared size kept and never more than
/// [`MAX_DECOMPRESSED_BYTES`] decompressed. `file` only names the source in
/// errors.
///
/// # Errors
/// As [`read_idx_file`]; a failed read of a plain stream is [`MnistError::Io`].
///
/// ```
/// use std::path::Path;
/// use arelu::mnist::{read_idx_reader, MnistError};
///
/// let labels = [0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1];
/// let bytes = read_idx_reader(&labels[..], Path::new("labels"))?;
/// assert_eq!(bytes, labels);
/// // A header declaring 1,000 labels over 3 bytes of data.
/// let short = [0, 0, 8, 1, 0, 0, 3, 232, 7, 2, 1];
/// let err = read_idx_reader(&short[..], Path::new("labels")).unwrap_err();
/// assert!(matches!(err, MnistError::TruncatedData { expected: 1_000, found: 3, .. }));
/// # Ok::<(), MnistError>(())
/// ```
pub fn read_idx_reader(mut reader: impl Read, file: &Path) -> Result<Vec<u8>, MnistError> {
    let mut sniff = [0u8; 2];
    let sniffed = read_full(&mut reader, &mut sniff).map_err(|e| Source::Plain.error(file, e))?;
    let prefix = std::io::Cursor::new(sniff).take(sniffed as u64);
    let idx = if is_gzip(&sniff[..sniffed]) {
        let decoder = flate2::read::MultiGzDecoder::new(prefix.chain(reader));
        read_idx_stream(decoder, Source::Gzip, None, file, None)?
    } else {
        read_idx_stream(prefix.chain(reader), Source::Plain, None, file, None)?
    };
    let mut bytes = idx.header;
    bytes.extend_from_slice(&idx.data);
    Ok(bytes)
}

/// An IDX file read by [`read_idx`]: its header bytes, dimensions and data.
struct IdxRead {
    header: Vec<u8>,
    dims: Vec<u32>,
    data: Vec<u8>,
}

/// What [`MnistError`] a failed read becomes: plain file reads are
/// [`MnistError::Io`], reads through the gzip decoder [`MnistError::CorruptGzip`].
#[derive(Clone, Copy)]
enum Source {
    Plain,
    Gzip,
}

impl Source {
    fn error(self, path: &Path, source: std::io::Error) -> MnistError {
        let path = path.to_path_buf();
        match self {
            Self::Plain => MnistError::Io { path, source },
            Self::Gzip => MnistError::CorruptGzip { path, source },
        }
    }
}

/// Opens `path` for reading and checks that it is a regular file.
///
/// On Unix the file is opened with `O_NONBLOCK`, so that opening a FIFO
/// returns at once instead of waiting for a writer; the check is made on the
/// opened file, so the file cannot be swapped between the check and the read.
/// (`O_NONBLOCK` has no effect on reads from a regular file.)
fn open_regular(path: &Path) -> Result<(std::fs::File, u64), MnistError> {
    let io_error = |source| MnistError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(io_error)?;
    let metadata = file.metadata().map_err(io_error)?;
    let kind = metadata.file_type();
    if !kind.is_file() {
        return Err(MnistError::NotRegularFile {
            path: path.to_path_buf(),
            kind: file_kind(kind),
        });
    }
    Ok((file, metadata.len()))
}

/// Words for a file type that is not a regular file.
fn file_kind(kind: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a named pipe (FIFO)";
        }
        if kind.is_char_device() {
            return "a character device";
        }
        if kind.is_block_device() {
            return "a block device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    if kind.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

/// Reads as many bytes as `buf` holds, fewer only at the end of the input.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Reads the IDX file at `path` (plain or gzipped), checking its header first
/// and keeping at most the declared data; see [`read_idx_file`]. With
/// `ndims`, the number of dimensions must be that.
fn read_idx(path: &Path, ndims: Option<u8>) -> Result<IdxRead, MnistError> {
    let (mut file, file_len) = open_regular(path)?;
    let mut sniff = [0u8; 2];
    let sniffed = read_full(&mut file, &mut sniff).map_err(|e| Source::Plain.error(path, e))?;
    let prefix = std::io::Cursor::new(sniff).take(sniffed as u64);
    if is_gzip(&sniff[..sniffed]) {
        let decoder = flate2::read::MultiGzDecoder::new(prefix.chain(file));
        read_idx_stream(decoder, Source::Gzip, None, path, ndims)
    } else {
        let reader = std::io::BufReader::new(prefix.chain(file));
        read_idx_stream(reader, Source::Plain, Some(file_len), path, ndims)
    }
}

/// [`read_idx`] on an open stream; `len` is the stream's length when known
/// (a plain file), which lets a size mismatch be reported before any data is
/// read.
fn read_idx_stream(
    mut reader: impl Read,
    source: Source,
    len: Option<u64>,
    path: &Path,
    ndims: Option<u8>,
) -> Result<IdxRead, MnistError> {
    let read_error = |e| source.error(path, e);
    let mut header = vec![0u8; 4];
    let got = read_full(&mut reader, &mut header).map_err(read_error)?;
    header.truncate(got);
    check_magic(&header, path, ndims)?;
    let header_len = 4 + 4 * usize::from(header[3]);
    header.resize(header_len, 0);
    let got = 4 + read_full(&mut reader, &mut header[4..]).map_err(read_error)?;
    if got < header_len {
        return Err(MnistError::TruncatedHeader {
            path: path.to_path_buf(),
            len: got,
            needed: header_len,
        });
    }
    let (dims, expected) = declared_size(&header, path)?;
    let limit = MAX_DECOMPRESSED_BYTES;
    if expected as u64 > limit {
        return Err(MnistError::DeclaredTooLarge {
            path: path.to_path_buf(),
            dims,
            bytes: expected as u64,
            limit,
        });
    }
    let mut data = Vec::new();
    if let Some(len) = len {
        // A plain file: its length is known, so a mismatch is reported
        // without reading the data, and the data is read into one allocation.
        let found = len.saturating_sub(header_len as u64);
        check_data_len(path, &dims, expected, found)?;
        data.reserve_exact(expected);
    }
    (&mut reader)
        .take(expected as u64)
        .read_to_end(&mut data)
        .map_err(read_error)?;
    if data.len() < expected {
        return Err(MnistError::TruncatedData {
            path: path.to_path_buf(),
            dims,
            expected,
            found: data.len(),
        });
    }
    // Read on to the end, keeping nothing: a gzip stream's checksum is only
    // verified there, and bytes beyond the declared data are an error.
    let budget = limit - expected as u64;
    let extra = std::io::copy(
        &mut (&mut reader).take(budget.saturating_add(1)),
        &mut std::io::sink(),
    )
    .map_err(read_error)?;
    if extra > budget {
        return Err(MnistError::DecompressedTooLarge {
            path: path.to_path_buf(),
            limit,
        });
    }
    if extra > 0 {
        return Err(MnistError::TrailingBytes {
            path: path.to_path_buf(),
            dims,
            expected,
            extra: usize::try_from(extra).unwrap_or(usize::MAX),
        });
    }
    Ok(IdxRead { header, dims, data })
}

/// Checks the first four bytes of an IDX file of unsigned bytes: two zero
/// bytes, element type `0x08`, and `ndims` dimensions when given. `magic` may
/// be shorter than four bytes (a truncated file).
fn check_magic(magic: &[u8], file: &Path, ndims: Option<u8>) -> Result<(), MnistError> {
    let path = || file.to_path_buf();
    if magic.len() >= 2 && magic[..2] != [0, 0] {
        let mut padded = [0; 4];
        padded[..magic.len().min(4)].copy_from_slice(&magic[..magic.len().min(4)]);
        return Err(MnistError::BadMagic {
            path: path(),
            magic: padded,
        });
    }
    if magic.len() < 4 {
        return Err(MnistError::TruncatedHeader {
            path: path(),
            len: magic.len(),
            needed: 4,
        });
    }
    if magic[2] != IDX_UBYTE {
        return Err(MnistError::BadElementType {
            path: path(),
            found: magic[2],
        });
    }
    match ndims {
        Some(expected) if magic[3] != expected => Err(MnistError::WrongDimensions {
            path: path(),
            expected,
            found: magic[3],
        }),
        _ => Ok(()),
    }
}

/// The dimensions of a complete, already checked IDX header and the number of
/// data bytes they describe.
fn declared_size(header: &[u8], file: &Path) -> Result<(Vec<u32>, usize), MnistError> {
    let dims: Vec<u32> = header[4..]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let expected = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(usize::try_from(d).ok()?));
    match expected {
        Some(expected) => Ok((dims, expected)),
        None => Err(MnistError::SizeOverflow {
            path: file.to_path_buf(),
            dims,
        }),
    }
}

/// Compares the number of data bytes present with the number declared.
fn check_data_len(
    file: &Path,
    dims: &[u32],
    expected: usize,
    found: u64,
) -> Result<(), MnistError> {
    let path = || file.to_path_buf();
    match found.cmp(&(expected as u64)) {
        std::cmp::Ordering::Less => Err(MnistError::TruncatedData {
            path: path(),
            dims: dims.to_vec(),
            expected,
            // less than `expected`, a usize
            found: found as usize,
        }),
        std::cmp::Ordering::Greater => Err(MnistError::TrailingBytes {
            path: path(),
            dims: dims.to_vec(),
            expected,
            extra: usize::try_from(found - expected as u64).unwrap_or(usize::MAX),
        }),
        std::cmp::Ordering::Equal => Ok(()),
    }
}

/// Whether `bytes` starts with the gzip magic `1f 8b`.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&GZIP_MAGIC)
}

/// Returns `bytes` gunzipped if it starts with the gzip magic, unchanged
/// otherwise. `file` only names the source in errors. Decompressed size is
/// capped at [`MAX_DECOMPRESSED_BYTES`].
pub fn gunzip_if_needed<'a>(bytes: &'a [u8], file: &Path) -> Result<Cow<'a, [u8]>, MnistError> {
    gunzip_if_needed_with_limit(bytes, file, MAX_DECOMPRESSED_BYTES)
}

/// [`gunzip_if_needed`] with an explicit cap on the decompressed size.
pub fn gunzip_if_needed_with_limit<'a>(
    bytes: &'a [u8],
    file: &Path,
    limit: u64,
) -> Result<Cow<'a, [u8]>, MnistError> {
    if is_gzip(bytes) {
        gunzip_capped(bytes, file, limit).map(Cow::Owned)
    } else {
        Ok(Cow::Borrowed(bytes))
    }
}

/// Decompresses (possibly multi-member) gzip data, refusing more than `limit`
/// output bytes. Trailing non-gzip data is an error.
fn gunzip_capped(bytes: &[u8], file: &Path, limit: u64) -> Result<Vec<u8>, MnistError> {
    let decoder = flate2::read::MultiGzDecoder::new(bytes);
    let mut out = Vec::new();
    decoder
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|source| MnistError::CorruptGzip {
            path: file.to_path_buf(),
            source,
        })?;
    if out.len() as u64 > limit {
        return Err(MnistError::DecompressedTooLarge {
            path: file.to_path_buf(),
            limit,
        });
    }
    Ok(out)
}

/// Checks an IDX header of unsigned bytes with `ndims` dimensions and that the
/// data length matches it exactly. Returns the dimensions and the data.
fn parse_idx<'a>(
    bytes: &'a [u8],
    file: &Path,
    ndims: u8,
) -> Result<(Vec<u32>, &'a [u8]), MnistError> {
    check_magic(&bytes[..bytes.len().min(4)], file, Some(ndims))?;
    let header_len = 4 + 4 * usize::from(ndims);
    if bytes.len() < header_len {
        return Err(MnistError::TruncatedHeader {
            path: file.to_path_buf(),
            len: bytes.len(),
            needed: header_len,
        });
    }
    let (dims, expected) = declared_size(&bytes[..header_len], file)?;
    let data = &bytes[header_len..];
    check_data_len(file, &dims, expected, data.len() as u64)?;
    Ok((dims, data))
}

/// Images parsed from an IDX3 file of unsigned bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct IdxImages {
    /// Number of images.
    pub count: usize,
    /// Rows per image.
    pub rows: usize,
    /// Columns per image.
    pub cols: usize,
    /// `count * rows * cols` pixels, image after image, row-major.
    pub pixels: Vec<u8>,
}

impl fmt::Debug for IdxImages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdxImages")
            .field("count", &self.count)
            .field("rows", &self.rows)
            .field("cols", &self.cols)
            .field("pixels", &format_args!("[u8; {}]", self.pixels.len()))
            .finish()
    }
}

/// Parses an (already decompressed) IDX3 images file: element type `0x08`,
/// dimensions `count x rows x cols`, any `rows`/`cols`. `file` only names the
/// source in errors.
pub fn parse_idx_images(bytes: &[u8], file: &Path) -> Result<IdxImages, MnistError> {
    let (dims, data) = parse_idx(bytes, file, 3)?;
    Ok(images_from(&dims, data.to_vec()))
}

/// Images from checked IDX3 dimensions and data.
fn images_from(dims: &[u32], pixels: Vec<u8>) -> IdxImages {
    // u32 always fits in usize on the platforms this crate supports (the
    // header check already converted every dimension with `try_from`).
    let [count, rows, cols] = [dims[0], dims[1], dims[2]].map(|d| d as usize);
    IdxImages {
        count,
        rows,
        cols,
        pixels,
    }
}

/// Parses an (already decompressed) IDX1 labels file: element type `0x08`,
/// one dimension, every label in `0..=9`. `file` only names the source in
/// errors.
pub fn parse_idx_labels(bytes: &[u8], file: &Path) -> Result<Vec<u8>, MnistError> {
    let (_, data) = parse_idx(bytes, file, 1)?;
    check_labels(data, file)?;
    Ok(data.to_vec())
}

/// Checks that every label is a digit `0..=9`.
fn check_labels(labels: &[u8], file: &Path) -> Result<(), MnistError> {
    match labels.iter().enumerate().find(|(_, &l)| l > 9) {
        Some((index, &value)) => Err(MnistError::BadLabel {
            path: file.to_path_buf(),
            index,
            value,
        }),
        None => Ok(()),
    }
}

/// One split (train or test) of MNIST-like data: `len()` images of
/// `rows x cols` unsigned-byte pixels and their labels `0..=9`.
#[derive(Clone, PartialEq, Eq)]
pub struct MnistSplit {
    /// `len() * rows * cols` pixels, image after image, row-major.
    pub images: Vec<u8>,
    /// One label `0..=9` per image.
    pub labels: Vec<u8>,
    /// Rows per image.
    pub rows: usize,
    /// Columns per image.
    pub cols: usize,
}

impl fmt::Debug for MnistSplit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MnistSplit")
            .field("len", &self.len())
            .field("rows", &self.rows)
            .field("cols", &self.cols)
            .finish_non_exhaustive()
    }
}

impl MnistSplit {
    /// Loads an images file and a labels file (each gzipped or not) and checks
    /// that they hold the same number of items, at least one. Any image size is
    /// accepted. Each file is read as [`read_idx_file`] reads it: header first,
    /// regular files only, at most the declared size.
    ///
    /// # Errors
    /// Those of [`read_idx_file`], [`MnistError::WrongDimensions`],
    /// [`MnistError::BadLabel`], [`MnistError::CountMismatch`] and
    /// [`MnistError::EmptySplit`].
    pub fn load(
        images_path: impl AsRef<Path>,
        labels_path: impl AsRef<Path>,
    ) -> Result<Self, MnistError> {
        let (images_path, labels_path) = (images_path.as_ref(), labels_path.as_ref());
        let images = read_idx(images_path, Some(3))?;
        let images = images_from(&images.dims, images.data);
        let labels = read_idx(labels_path, Some(1))?.data;
        check_labels(&labels, labels_path)?;
        Self::from_parts(images, images_path, labels, labels_path)
    }

    /// Like [`MnistSplit::load`] but from the files' bytes (each gzipped or
    /// not). The paths only name the sources in errors.
    ///
    /// # Errors
    /// As [`MnistSplit::load`], less the file-system ones.
    pub fn from_idx_bytes(
        images: &[u8],
        images_file: &Path,
        labels: &[u8],
        labels_file: &Path,
    ) -> Result<Self, MnistError> {
        let images = parse_idx_images(&gunzip_if_needed(images, images_file)?, images_file)?;
        let labels = parse_idx_labels(&gunzip_if_needed(labels, labels_file)?, labels_file)?;
        Self::from_parts(images, images_file, labels, labels_file)
    }

    fn from_parts(
        images: IdxImages,
        images_path: &Path,
        labels: Vec<u8>,
        labels_path: &Path,
    ) -> Result<Self, MnistError> {
        if images.count != labels.len() {
            return Err(MnistError::CountMismatch {
                images_path: images_path.to_path_buf(),
                images: images.count,
                labels_path: labels_path.to_path_buf(),
                labels: labels.len(),
            });
        }
        if images.count == 0 {
            return Err(MnistError::EmptySplit {
                path: images_path.to_path_buf(),
            });
        }
        Ok(Self {
            images: images.pixels,
            labels,
            rows: images.rows,
            cols: images.cols,
        })
    }

    /// Number of images (and labels).
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Pixels per image, `rows * cols`.
    pub fn pixels_per_image(&self) -> usize {
        self.rows * self.cols
    }

    /// Raw pixels of image `i`.
    ///
    /// # Panics
    /// If `i >= self.len()`.
    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.pixels_per_image();
        &self.images[i * n..(i + 1) * n]
    }

    /// Label of image `i`.
    ///
    /// # Panics
    /// If `i >= self.len()`.
    pub fn label(&self, i: usize) -> u8 {
        self.labels[i]
    }

    /// Pixels of image `i` normalised to `pixel / 255` in `[0, 1]`.
    ///
    /// # Panics
    /// If `i >= self.len()`.
    pub fn pixels_f32(&self, i: usize) -> Vec<f32> {
        self.image(i).iter().map(|&p| normalise(p)).collect()
    }

    /// All pixels normalised to `pixel / 255`, image after image
    /// (`len() * rows * cols` values).
    pub fn images_f32(&self) -> Vec<f32> {
        self.images.iter().map(|&p| normalise(p)).collect()
    }

    /// Iterates over `(raw pixels, label)`.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&[u8], u8)> + '_ {
        (0..self.len()).map(move |i| (self.image(i), self.labels[i]))
    }

    /// Iterates over `(pixels normalised to pixel / 255, label)`.
    pub fn iter_f32(&self) -> impl ExactSizeIterator<Item = (Vec<f32>, u8)> + '_ {
        (0..self.len()).map(move |i| (self.pixels_f32(i), self.labels[i]))
    }

    /// A CRC-32 of this split's content (image size, pixels and labels). It names the data
    /// whatever file, compression or path it was read from: the experiments' results files
    /// record it, so that a results file is resumed only on the same images.
    pub fn checksum(&self) -> u32 {
        let mut hasher = crc32fast::Hasher::new();
        for dim in [self.rows, self.cols, self.len()] {
            hasher.update(&(dim as u64).to_le_bytes());
        }
        hasher.update(&self.images);
        hasher.update(&self.labels);
        hasher.finalize()
    }

    /// Keeps only the first `n` images (all of them if there are fewer).
    pub fn truncate(&mut self, n: usize) {
        let n = n.min(self.len());
        self.labels.truncate(n);
        self.images.truncate(n * self.pixels_per_image());
    }

    /// The first `n` images (all of them if there are fewer), e.g. for
    /// `--train-limit N`.
    pub fn take(mut self, n: usize) -> Self {
        self.truncate(n);
        self
    }
}

fn normalise(p: u8) -> f32 {
    f32::from(p) / 255.0
}

/// MNIST: a training and a test split of 28x28 digits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mnist {
    /// Training split (60,000 digits in full MNIST).
    pub train: MnistSplit,
    /// Test split (10,000 digits in full MNIST).
    pub test: MnistSplit,
}

macro_rules! shipped {
    ($name:literal) => {
        (
            concat!(env!("CARGO_MANIFEST_DIR"), "/data/mnist-subset/", $name),
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/data/mnist-subset/",
                $name
            ))
            .as_slice(),
        )
    };
}

impl Mnist {
    /// Loads `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
    /// `t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte` from `dir`,
    /// taking `NAME.gz` when it exists and `NAME` otherwise. Images must be
    /// 28x28.
    pub fn load_dir(dir: impl AsRef<Path>) -> Result<Self, MnistError> {
        let dir = dir.as_ref();
        let find = |name: &str| -> Result<PathBuf, MnistError> {
            let gz = dir.join(format!("{name}.gz"));
            let plain = dir.join(name);
            if gz.exists() {
                Ok(gz)
            } else if plain.exists() {
                Ok(plain)
            } else {
                Err(MnistError::NotFound {
                    dir: dir.to_path_buf(),
                    name: name.to_owned(),
                })
            }
        };
        let load = |images: &str, labels: &str| -> Result<MnistSplit, MnistError> {
            let images_path = find(images)?;
            let labels_path = find(labels)?;
            let split = MnistSplit::load(&images_path, &labels_path)?;
            check_28x28(&split, &images_path)?;
            Ok(split)
        };
        Ok(Self {
            train: load(TRAIN_IMAGES, TRAIN_LABELS)?,
            test: load(TEST_IMAGES, TEST_LABELS)?,
        })
    }

    /// Loads the MNIST subset shipped with (and embedded in) this crate: the
    /// first 5,000 training and first 1,000 test digits (see
    /// `data/mnist-subset/README.md`). Works from any working directory.
    pub fn load_shipped() -> Result<Self, MnistError> {
        let split = |(images_file, images): (&str, &[u8]), (labels_file, labels): (&str, &[u8])| {
            let images_file = Path::new(images_file);
            let split =
                MnistSplit::from_idx_bytes(images, images_file, labels, Path::new(labels_file))?;
            check_28x28(&split, images_file)?;
            Ok::<_, MnistError>(split)
        };
        Ok(Self {
            train: split(
                shipped!("train-images-idx3-ubyte.gz"),
                shipped!("train-labels-idx1-ubyte.gz"),
            )?,
            test: split(
                shipped!("t10k-images-idx3-ubyte.gz"),
                shipped!("t10k-labels-idx1-ubyte.gz"),
            )?,
        })
    }
}

fn check_28x28(split: &MnistSplit, images_path: &Path) -> Result<(), MnistError> {
    if (split.rows, split.cols) != (28, 28) {
        return Err(MnistError::WrongImageSize {
            path: images_path.to_path_buf(),
            rows: split.rows,
            cols: split.cols,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use tempfile::TempDir;

    /// Writes `bytes` to the file `name` in `dir` and returns its path.
    fn write_file(dir: &TempDir, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    fn idx(elem: u8, dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut v = vec![0, 0, elem, dims.len() as u8];
        for d in dims {
            v.extend_from_slice(&d.to_be_bytes());
        }
        v.extend_from_slice(data);
        v
    }

    fn images_bytes(count: u32, rows: u32, cols: u32) -> Vec<u8> {
        let data: Vec<u8> = (0..count * rows * cols)
            .map(|i| (i * 7 % 256) as u8)
            .collect();
        idx(IDX_UBYTE, &[count, rows, cols], &data)
    }

    fn labels_bytes(count: u32) -> Vec<u8> {
        let data: Vec<u8> = (0..count).map(|i| (i % 10) as u8).collect();
        idx(IDX_UBYTE, &[count], &data)
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    fn p(name: &str) -> PathBuf {
        PathBuf::from(name)
    }

    /// Writes a complete MNIST-like directory with `rows x cols` images.
    fn write_dir(dir: &TempDir, gz: bool, rows: u32, cols: u32) {
        let files = [
            (TRAIN_IMAGES, images_bytes(5, rows, cols)),
            (TRAIN_LABELS, labels_bytes(5)),
            (TEST_IMAGES, images_bytes(3, rows, cols)),
            (TEST_LABELS, labels_bytes(3)),
        ];
        for (name, bytes) in files {
            if gz {
                write_file(dir, &format!("{name}.gz"), &gzip(&bytes));
            } else {
                write_file(dir, name, &bytes);
            }
        }
    }

    #[test]
    fn round_trip_plain_and_gz() {
        for gz in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            write_dir(&dir, gz, 28, 28);
            let m = Mnist::load_dir(dir.path()).unwrap();
            assert_eq!(m.train.len(), 5);
            assert_eq!(m.test.len(), 3);
            assert!(!m.train.is_empty());
            assert_eq!((m.train.rows, m.train.cols), (28, 28));
            assert_eq!(m.train.labels, vec![0, 1, 2, 3, 4]);
            let expected = images_bytes(5, 28, 28)[16..].to_vec();
            assert_eq!(m.train.images, expected);
            assert_eq!(m.train.image(1), &expected[784..2 * 784]);
            let f = m.train.pixels_f32(1);
            assert_eq!(f.len(), 784);
            for (a, &b) in f.iter().zip(&expected[784..]) {
                assert_eq!(*a, f32::from(b) / 255.0);
            }
            assert_eq!(m.train.images_f32().len(), 5 * 784);
            assert_eq!(m.train.iter().len(), 5);
            assert_eq!(
                m.test.iter_f32().map(|(_, l)| l).collect::<Vec<_>>(),
                [0, 1, 2]
            );
        }
    }

    #[test]
    fn gzip_detected_by_magic_not_name() {
        let dir = tempfile::tempdir().unwrap();
        // gzipped content under a plain name, plain content under a .gz name
        let a = write_file(&dir, "labels", &gzip(&labels_bytes(4)));
        let b = write_file(&dir, "labels.gz", &labels_bytes(4));
        let la = parse_idx_labels(&read_idx_file(&a).unwrap(), &a).unwrap();
        let lb = parse_idx_labels(&read_idx_file(&b).unwrap(), &b).unwrap();
        assert_eq!(la, vec![0, 1, 2, 3]);
        assert_eq!(la, lb);
    }

    #[test]
    fn the_checksum_follows_the_content() {
        let mnist = Mnist::load_shipped().unwrap();
        let sum = mnist.train.checksum();
        assert_eq!(mnist.train.clone().checksum(), sum);
        assert_ne!(mnist.test.checksum(), sum);
        let mut changed = mnist.train.clone();
        changed.images[1000] ^= 1;
        assert_ne!(changed.checksum(), sum);
        let mut relabelled = mnist.train.clone();
        relabelled.labels[0] = (relabelled.labels[0] + 1) % 10;
        assert_ne!(relabelled.checksum(), sum);
        assert_ne!(mnist.train.clone().take(4999).checksum(), sum);
    }

    #[test]
    fn load_dir_prefers_gz() {
        let dir = tempfile::tempdir().unwrap();
        write_dir(&dir, false, 28, 28);
        // A .gz with different content next to the plain file wins.
        write_file(
            &dir,
            &format!("{TRAIN_LABELS}.gz"),
            &gzip(&idx(8, &[5], &[9; 5])),
        );
        let m = Mnist::load_dir(dir.path()).unwrap();
        assert_eq!(m.train.labels, vec![9; 5]);
    }

    #[test]
    fn missing_file_is_io_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope");
        let err = read_idx_file(&path).unwrap_err();
        match &err {
            MnistError::Io { path: p, source } => {
                assert_eq!(p, &path);
                assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(err.to_string().contains("nope"), "{err}");
    }

    #[test]
    fn missing_file_in_dir_is_not_found() {
        let dir = tempfile::tempdir().unwrap();
        write_dir(&dir, true, 28, 28);
        std::fs::remove_file(dir.path().join(format!("{TEST_LABELS}.gz"))).unwrap();
        let err = Mnist::load_dir(dir.path()).unwrap_err();
        assert!(
            matches!(&err, MnistError::NotFound { name, .. } if name == TEST_LABELS),
            "{err:?}"
        );
        assert!(err.to_string().contains(TEST_LABELS), "{err}");
    }

    #[test]
    fn corrupt_gzip() {
        let dir = tempfile::tempdir().unwrap();
        let mut gz = gzip(&labels_bytes(100));
        let n = gz.len();
        gz[n / 2] ^= 0xff; // flip bits in the deflate stream
        gz[n - 6] ^= 0xff; // and in the CRC, so the error is certain
        let path = write_file(&dir, "bad.gz", &gz);
        let err = read_idx_file(&path).unwrap_err();
        assert!(
            matches!(&err, MnistError::CorruptGzip { path: p, .. } if p == &path),
            "{err:?}"
        );

        // Only the magic, then nothing.
        let err = read_idx_file(write_file(&dir, "magic-only", &[0x1f, 0x8b])).unwrap_err();
        assert!(matches!(err, MnistError::CorruptGzip { .. }), "{err:?}");

        // Truncated gzip stream.
        let gz = gzip(&labels_bytes(100));
        let err = read_idx_file(write_file(&dir, "cut.gz", &gz[..gz.len() - 10])).unwrap_err();
        assert!(matches!(err, MnistError::CorruptGzip { .. }), "{err:?}");

        // Garbage after a valid gzip member.
        let mut gz = gzip(&labels_bytes(10));
        gz.extend_from_slice(b"garbage");
        let err = read_idx_file(write_file(&dir, "tail.gz", &gz)).unwrap_err();
        assert!(matches!(err, MnistError::CorruptGzip { .. }), "{err:?}");
    }

    #[test]
    fn gzip_bomb_is_capped() {
        let bytes = gzip(&vec![0u8; 10_000]);
        let err = gunzip_if_needed_with_limit(&bytes, &p("bomb.gz"), 9_999).unwrap_err();
        assert!(
            matches!(err, MnistError::DecompressedTooLarge { limit: 9_999, .. }),
            "{err:?}"
        );
        // Exactly at the limit is fine.
        let ok = gunzip_if_needed_with_limit(&bytes, &p("bomb.gz"), 10_000).unwrap();
        assert_eq!(ok.len(), 10_000);
    }

    #[test]
    fn gzip_bomb_default_limit() {
        // A valid header declaring one label, then 256 MiB of zeros (about 256 KB gzipped):
        // decompressed up to the cap without being kept, then refused.
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&idx(IDX_UBYTE, &[1], &[7])).unwrap();
        let chunk = vec![0u8; 1 << 20];
        for _ in 0..256 {
            enc.write_all(&chunk).unwrap();
        }
        let bytes = enc.finish().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let err = read_idx_file(write_file(&dir, "bomb.gz", &bytes)).unwrap_err();
        assert!(
            matches!(
                err,
                MnistError::DecompressedTooLarge {
                    limit: MAX_DECOMPRESSED_BYTES,
                    ..
                }
            ),
            "{err:?}"
        );
        // Zeros alone are refused at their header, before the rest is decompressed.
        let err = read_idx_file(write_file(&dir, "zeros.gz", &gzip(&chunk))).unwrap_err();
        assert!(
            matches!(err, MnistError::BadElementType { found: 0, .. }),
            "{err:?}"
        );
        // Trailing bytes after the declared data are counted, not kept.
        let mut labels = labels_bytes(3);
        labels.extend_from_slice(&[5; 1000]);
        let err = read_idx_file(write_file(&dir, "tail.gz", &gzip(&labels))).unwrap_err();
        assert!(
            matches!(
                err,
                MnistError::TrailingBytes {
                    expected: 3,
                    extra: 1000,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn bad_magic() {
        let mut b = labels_bytes(3);
        b[1] = 1;
        let err = parse_idx_labels(&b, &p("l")).unwrap_err();
        assert!(
            matches!(
                err,
                MnistError::BadMagic {
                    magic: [0, 1, 8, 1],
                    ..
                }
            ),
            "{err:?}"
        );
        let err = parse_idx_images(b"PK\x03\x04rest", &p("i")).unwrap_err();
        assert!(matches!(err, MnistError::BadMagic { .. }), "{err:?}");
        let err = parse_idx_images(b"PK", &p("i")).unwrap_err();
        assert!(matches!(err, MnistError::BadMagic { .. }), "{err:?}");
    }

    #[test]
    fn bad_element_type() {
        // 0x0D = f32 in IDX
        let b = idx(0x0D, &[2], &[0; 8]);
        let err = parse_idx_labels(&b, &p("l")).unwrap_err();
        assert!(
            matches!(err, MnistError::BadElementType { found: 0x0D, .. }),
            "{err:?}"
        );
        let b = idx(0x09, &[1, 1, 1], &[0]);
        let err = parse_idx_images(&b, &p("i")).unwrap_err();
        assert!(
            matches!(err, MnistError::BadElementType { found: 0x09, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn wrong_number_of_dims() {
        let err = parse_idx_images(&labels_bytes(3), &p("i")).unwrap_err();
        assert!(
            matches!(
                err,
                MnistError::WrongDimensions {
                    expected: 3,
                    found: 1,
                    ..
                }
            ),
            "{err:?}"
        );
        let err = parse_idx_labels(&images_bytes(1, 2, 2), &p("l")).unwrap_err();
        assert!(
            matches!(
                err,
                MnistError::WrongDimensions {
                    expected: 1,
                    found: 3,
                    ..
                }
            ),
            "{err:?}"
        );
        let err = parse_idx_images(&idx(8, &[1, 2, 2, 1], &[0; 4]), &p("i")).unwrap_err();
        assert!(
            matches!(
                err,
                MnistError::WrongDimensions {
                    expected: 3,
                    found: 4,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn truncated_header() {
        for len in 0..2 {
            let err = parse_idx_labels(&[0; 2][..len], &p("l")).unwrap_err();
            assert!(
                matches!(err, MnistError::TruncatedHeader { needed: 4, .. }),
                "{err:?}"
            );
        }
        let b = images_bytes(1, 2, 2);
        let err = parse_idx_images(&b[..10], &p("i")).unwrap_err();
        assert!(
            matches!(
                err,
                MnistError::TruncatedHeader {
                    len: 10,
                    needed: 16,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn truncated_data() {
        let b = images_bytes(3, 28, 28);
        let err = parse_idx_images(&b[..b.len() - 1], &p("i")).unwrap_err();
        assert!(
            matches!(
                err,
                MnistError::TruncatedData {
                    expected: 2352,
                    found: 2351,
                    ..
                }
            ),
            "{err:?}"
        );
        let b = labels_bytes(10);
        let err = parse_idx_labels(&b[..12], &p("l")).unwrap_err();
        assert!(
            matches!(
                err,
                MnistError::TruncatedData {
                    expected: 10,
                    found: 4,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn huge_header_dims_do_not_allocate_or_overflow() {
        // u32::MAX^3 overflows usize on 64-bit: typed error, no allocation.
        let b = idx(8, &[u32::MAX, u32::MAX, u32::MAX], &[1, 2, 3]);
        let err = parse_idx_images(&b, &p("i")).unwrap_err();
        assert!(matches!(err, MnistError::SizeOverflow { .. }), "{err:?}");
        // Large but representable: reported as truncated, nothing allocated.
        let b = idx(8, &[u32::MAX, 28, 28], &[1, 2, 3]);
        let err = parse_idx_images(&b, &p("i")).unwrap_err();
        assert!(
            matches!(err, MnistError::TruncatedData { found: 3, .. }),
            "{err:?}"
        );
        let b = idx(8, &[u32::MAX], &[1, 2, 3]);
        let err = parse_idx_labels(&b, &p("l")).unwrap_err();
        assert!(
            matches!(err, MnistError::TruncatedData { found: 3, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn trailing_bytes() {
        let mut b = images_bytes(2, 28, 28);
        b.push(0);
        let err = parse_idx_images(&b, &p("i")).unwrap_err();
        assert!(
            matches!(err, MnistError::TrailingBytes { extra: 1, .. }),
            "{err:?}"
        );
        let mut b = labels_bytes(2);
        b.extend_from_slice(&[1, 2, 3]);
        let err = parse_idx_labels(&b, &p("l")).unwrap_err();
        assert!(
            matches!(
                err,
                MnistError::TrailingBytes {
                    expected: 2,
                    extra: 3,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn label_above_nine() {
        let b = idx(8, &[4], &[0, 9, 10, 255]);
        let err = parse_idx_labels(&b, &p("labels-file")).unwrap_err();
        assert!(
            matches!(
                err,
                MnistError::BadLabel {
                    index: 2,
                    value: 10,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("labels-file"), "{err}");
    }

    #[test]
    fn count_mismatch_names_both_files() {
        let dir = tempfile::tempdir().unwrap();
        let i = write_file(&dir, "imgs.gz", &gzip(&images_bytes(3, 28, 28)));
        let l = write_file(&dir, "lbls", &labels_bytes(4));
        let err = MnistSplit::load(&i, &l).unwrap_err();
        assert!(
            matches!(&err, MnistError::CountMismatch { images: 3, labels: 4, images_path, labels_path }
                if images_path == &i && labels_path == &l),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(msg.contains("imgs.gz") && msg.contains("lbls"), "{msg}");

        // Same through a whole directory.
        let dir = tempfile::tempdir().unwrap();
        write_dir(&dir, false, 28, 28);
        write_file(&dir, TEST_LABELS, &labels_bytes(2));
        let err = Mnist::load_dir(dir.path()).unwrap_err();
        assert!(
            matches!(
                err,
                MnistError::CountMismatch {
                    images: 3,
                    labels: 2,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn mnist_requires_28x28() {
        let dir = tempfile::tempdir().unwrap();
        write_dir(&dir, true, 27, 28);
        let err = Mnist::load_dir(dir.path()).unwrap_err();
        assert!(
            matches!(&err, MnistError::WrongImageSize { rows: 27, cols: 28, path }
                if path.ends_with(format!("{TRAIN_IMAGES}.gz"))),
            "{err:?}"
        );
        // ... while the split loader accepts any size.
        let split = MnistSplit::load(
            dir.path().join(format!("{TRAIN_IMAGES}.gz")),
            dir.path().join(format!("{TRAIN_LABELS}.gz")),
        )
        .unwrap();
        assert_eq!((split.len(), split.rows, split.cols), (5, 27, 28));
        assert_eq!(split.pixels_f32(4).len(), 27 * 28);
    }

    #[test]
    fn take_and_truncate() {
        let s = MnistSplit::from_idx_bytes(
            &images_bytes(6, 2, 3),
            &p("i"),
            &gzip(&labels_bytes(6)),
            &p("l"),
        )
        .unwrap();
        let t = s.clone().take(4);
        assert_eq!((t.len(), t.images.len()), (4, 24));
        assert_eq!(t.image(3), s.image(3));
        let t = s.clone().take(100);
        assert_eq!(t, s);
        let t = s.take(0);
        assert!(t.is_empty() && t.images.is_empty());
    }

    #[test]
    fn shipped_subset() {
        let m = Mnist::load_shipped().unwrap();
        assert_eq!(m.train.len(), 5_000);
        assert_eq!(m.test.len(), 1_000);
        for s in [&m.train, &m.test] {
            assert_eq!((s.rows, s.cols), (28, 28));
            assert_eq!(s.images.len(), s.len() * 784);
            assert!(s.labels.iter().all(|&l| l <= 9));
        }
        assert_eq!(m.train.labels[0], 5);
        // The first test digit of MNIST is a 7.
        assert_eq!(m.test.labels[0], 7);
        // Every digit is present.
        for d in 0..10 {
            assert!(m.train.labels.contains(&d));
        }
    }

    #[test]
    fn shipped_subset_matches_files_on_disk() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/data/mnist-subset");
        assert_eq!(
            Mnist::load_dir(dir).unwrap(),
            Mnist::load_shipped().unwrap()
        );
    }

    #[test]
    fn full_mnist_if_present() {
        // The full MNIST is not shipped: set ARELU_MNIST_DIR to a directory holding it.
        let Some(dir) = std::env::var_os("ARELU_MNIST_DIR").map(PathBuf::from) else {
            eprintln!("skipping: ARELU_MNIST_DIR is not set");
            return;
        };
        let m = Mnist::load_dir(&dir).unwrap();
        assert_eq!(m.train.len(), 60_000);
        assert_eq!(m.test.len(), 10_000);
        assert_eq!(m.train.labels[0], 5);
        // The shipped subset is a prefix of the full set.
        let shipped = Mnist::load_shipped().unwrap();
        assert_eq!(m.train.clone().take(5_000), shipped.train);
        assert_eq!(m.test.clone().take(1_000), shipped.test);
    }

    #[test]
    fn errors_name_the_file() {
        let err = parse_idx_images(&labels_bytes(1), Path::new("/some/where/x-idx3")).unwrap_err();
        assert!(err.to_string().starts_with("/some/where/x-idx3: "), "{err}");
    }
}
