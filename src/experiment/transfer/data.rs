//! Three-channel 28x28 images for the transfer experiment ([`ColourImages`], which lives in
//! [`crate::images`] and is re-exported here), and the stand-in target domain
//! `mnist-colour` made from MNIST.
//!
//! # The stand-in domain `mnist-colour`
//!
//! It is **not SVHN**: it is MNIST, recoloured, so that the experiment can run where SVHN is
//! not available while the transfer stays real (the same ten digits; an input distribution
//! shifted away from MNIST's white-on-black toward SVHN's colour photographs). Image `i` of
//! a split, for a domain seed `s`, is made from MNIST image `i` of that split with `m = p /
//! 255` its grey level at each pixel:
//!
//! 1. a foreground colour `f` and a background colour `b` are drawn uniformly from the RGB
//!    cube `{0..255}³`, redrawn until their luminances (`0.299 R + 0.587 G + 0.114 B`) differ
//!    by at least [`MIN_CONTRAST`] (so that about half the digits are darker than their
//!    background, unlike any MNIST digit);
//! 2. each channel `c` of each pixel becomes `b_c + (f_c − b_c) · m + n`, rounded and clamped
//!    to `0..=255`, where `n` is uniform noise in `[−NOISE, NOISE]` ([`NOISE`]), drawn per
//!    pixel and channel (a background texture);
//! 3. the label is MNIST's.
//!
//! The draws come from a generator seeded by `(s, split, i)` alone, so an image does not
//! depend on which other images are converted, nor on the order.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub use crate::images::{ColourImages, ColourImagesError, PLANE, VALUES};
use crate::mnist::MnistSplit;

/// The least luminance difference, out of 255, between a stand-in digit and its background.
pub const MIN_CONTRAST: f64 = 80.0;
/// The amplitude of the stand-in's per-pixel noise, out of 255.
pub const NOISE: f64 = 24.0;

/// Which MNIST split a stand-in image comes from; part of its generator's seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitTag {
    /// The training split.
    Train,
    /// The test split.
    Test,
}

impl ColourImages {
    /// The stand-in domain `mnist-colour` made from `split` with domain seed `seed` (see the
    /// [module docs](self) for the exact definition). `split` must hold 28x28 images.
    ///
    /// ```
    /// use arelu::experiment::transfer::{ColourImages, SplitTag};
    /// use arelu::mnist::Mnist;
    /// let test = Mnist::load_shipped().unwrap().test.take(3);
    /// let a = ColourImages::mnist_colour(&test, SplitTag::Test, 7);
    /// assert_eq!(a, ColourImages::mnist_colour(&test, SplitTag::Test, 7));
    /// assert_ne!(a, ColourImages::mnist_colour(&test, SplitTag::Test, 8));
    /// assert_eq!(a.labels(), test.labels.as_slice());
    /// ```
    pub fn mnist_colour(split: &MnistSplit, tag: SplitTag, seed: u64) -> Self {
        Self::mnist_colour_range(split, 0..split.len(), tag, seed)
    }

    /// [`mnist_colour`](Self::mnist_colour) of the images `range` of `split` only (image `i`
    /// is the same as in the whole split's conversion).
    pub fn mnist_colour_range(
        split: &MnistSplit,
        range: std::ops::Range<usize>,
        tag: SplitTag,
        seed: u64,
    ) -> Self {
        let range = range.start.min(split.len())..range.end.min(split.len());
        let mut pixels = Vec::with_capacity(range.len() * VALUES);
        for i in range.clone() {
            pixels.extend(colourise(split.image(i), tag, seed, i));
        }
        Self::from_parts_unchecked(pixels, split.labels[range].to_vec())
    }
}

fn luminance(c: [u8; 3]) -> f64 {
    0.299 * f64::from(c[0]) + 0.587 * f64::from(c[1]) + 0.114 * f64::from(c[2])
}

/// One stand-in image (see the module docs).
fn colourise(grey: &[u8], tag: SplitTag, seed: u64, index: usize) -> Vec<u8> {
    let tag = match tag {
        SplitTag::Train => 0x7472_6169_6e00_0000u64,
        SplitTag::Test => 0x7465_7374_0000_0000u64,
    };
    let mut rng = StdRng::seed_from_u64(
        seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ tag ^ (index as u64).rotate_left(17),
    );
    // Rejection sampling: a random pair passes about half the time, so 64 draws all failing
    // has probability below 1e-19; the fallback (white on black) only bounds the loop.
    let (mut fg, mut bg) = ([255u8; 3], [0u8; 3]);
    for _ in 0..64 {
        let f: [u8; 3] = rng.gen();
        let b: [u8; 3] = rng.gen();
        if (luminance(f) - luminance(b)).abs() >= MIN_CONTRAST {
            (fg, bg) = (f, b);
            break;
        }
    }
    let mut out = vec![0u8; VALUES];
    for c in 0..3 {
        let (f, b) = (f64::from(fg[c]), f64::from(bg[c]));
        for (o, &p) in out[c * PLANE..(c + 1) * PLANE].iter_mut().zip(grey) {
            let m = f64::from(p) / 255.0;
            let noise = rng.gen_range(-NOISE..=NOISE);
            *o = (b + (f - b) * m + noise).round().clamp(0.0, 255.0) as u8;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mnist::Mnist;

    #[test]
    fn stand_in_keeps_the_digit_and_changes_the_input() {
        let test = Mnist::load_shipped().unwrap().test.take(50);
        let colour = ColourImages::mnist_colour(&test, SplitTag::Test, 1);
        let mut darker_digits = 0;
        for i in 0..test.len() {
            let grey = test.image(i);
            let img = colour.image(i);
            // Ink and paper differ by the drawn contrast: mean luminance of the strokes
            // (grey > 200) against the background (grey == 0).
            let lum = |k: usize| {
                0.299 * f64::from(img[k])
                    + 0.587 * f64::from(img[PLANE + k])
                    + 0.114 * f64::from(img[2 * PLANE + k])
            };
            let mean = |pred: &dyn Fn(u8) -> bool| {
                let ks: Vec<usize> = (0..PLANE).filter(|&k| pred(grey[k])).collect();
                ks.iter().map(|&k| lum(k)).sum::<f64>() / ks.len() as f64
            };
            let ink = mean(&|p| p > 200);
            let paper = mean(&|p| p == 0);
            assert!((ink - paper).abs() > MIN_CONTRAST * 0.7, "image {i}");
            darker_digits += (ink < paper) as usize;
        }
        // Both polarities occur (a random pair is darker-digit half the time).
        assert!((10..=40).contains(&darker_digits), "{darker_digits}");
        assert_eq!(colour.labels(), test.labels.as_slice());
    }

    #[test]
    fn an_image_depends_on_its_index_not_on_the_range() {
        let train = Mnist::load_shipped().unwrap().train.take(20);
        let all = ColourImages::mnist_colour(&train, SplitTag::Train, 3);
        let part = ColourImages::mnist_colour_range(&train, 12..20, SplitTag::Train, 3);
        assert_eq!(part.image(0), all.image(12));
        assert_eq!(part.image(7), all.image(19));
        let test_tag = ColourImages::mnist_colour_range(&train, 12..20, SplitTag::Test, 3);
        assert_ne!(test_tag.image(0), all.image(12));
    }
}
