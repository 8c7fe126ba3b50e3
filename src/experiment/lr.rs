//! [`LearningRate`]: a learning rate known to be positive and finite, compared exactly.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A learning rate: a positive, finite `f64`.
///
/// Two rates are the same run setting when their values are exactly equal: equality, order
/// and hash go by the value's bits (for positive finite numbers the order of the bits is the
/// numeric order). It (de)serialises as the plain number, and prints as `f64` does
/// (`0.01`); [`LearningRate::label`] gives the paper's short form (`1e-2`) for table
/// headers.
///
/// ```
/// use arelu::experiment::LearningRate;
///
/// let lr = LearningRate::new(0.01).unwrap();
/// assert_eq!(lr.get(), 0.01);
/// assert_eq!(lr.to_string(), "0.01");
/// assert_eq!(lr.label(), "1e-2");
/// assert!(LearningRate::new(1e-3).unwrap() < lr);
/// assert!(LearningRate::new(0.0).is_err());
/// assert!(LearningRate::new(f64::NAN).is_err());
/// ```
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct LearningRate(f64);

/// A value refused as a learning rate: not finite, or not positive.
#[derive(Debug, Clone, Copy, PartialEq, Error)]
#[error("a learning rate must be positive and finite, got {0}")]
pub struct LearningRateError(pub f64);

impl LearningRate {
    /// `value` as a learning rate.
    ///
    /// # Errors
    /// [`LearningRateError`] when `value` is not finite or not positive.
    pub fn new(value: f64) -> Result<Self, LearningRateError> {
        if value.is_finite() && value > 0.0 {
            Ok(Self(value))
        } else {
            Err(LearningRateError(value))
        }
    }

    /// The value.
    pub fn get(self) -> f64 {
        self.0
    }

    /// The rate as the paper writes it in table headers: `0.01` → `"1e-2"`, `0.0005` →
    /// `"5e-4"`, `0.0025` → `"2.5e-3"`. Rounded to 6 significant digits first, so
    /// floating-point noise (`0.1 * 0.1`) does not show.
    pub fn label(self) -> String {
        let rounded: f64 = format!("{:.5e}", self.0).parse().unwrap_or(self.0);
        format!("{rounded:e}")
    }
}

impl PartialEq for LearningRate {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}

impl Eq for LearningRate {}

impl Hash for LearningRate {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.to_bits().hash(state);
    }
}

impl PartialOrd for LearningRate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for LearningRate {
    fn cmp(&self, other: &Self) -> Ordering {
        // Positive finite values: the bits order as the numbers do.
        self.0.to_bits().cmp(&other.0.to_bits())
    }
}

impl fmt::Display for LearningRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl TryFrom<f64> for LearningRate {
    type Error = LearningRateError;
    fn try_from(value: f64) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<LearningRate> for f64 {
    fn from(lr: LearningRate) -> f64 {
        lr.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lr(value: f64) -> LearningRate {
        LearningRate::new(value).unwrap()
    }

    #[test]
    fn labels() {
        assert_eq!(lr(0.01).label(), "1e-2");
        assert_eq!(lr(1e-3).label(), "1e-3");
        assert_eq!(lr(0.0001).label(), "1e-4");
        assert_eq!(lr(1e-5).label(), "1e-5");
        assert_eq!(lr(0.0005).label(), "5e-4");
        assert_eq!(lr(0.0025).label(), "2.5e-3");
        assert_eq!(lr(0.1 * 0.1).label(), "1e-2");
        assert_eq!(lr(1.0).label(), "1e0");
    }

    #[test]
    fn only_positive_finite_values_are_rates() {
        for bad in [0.0, -0.0, -1e-3, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let err = LearningRate::new(bad).unwrap_err();
            assert!(err.to_string().contains("positive and finite"), "{err}");
        }
        assert_eq!(lr(f64::MIN_POSITIVE).get(), f64::MIN_POSITIVE);
        assert_eq!(lr(f64::MAX).get(), f64::MAX);
    }

    #[test]
    fn compared_exactly_and_ordered_as_numbers() {
        assert_eq!(lr(0.01), lr(1e-2));
        assert_ne!(lr(0.01), lr(0.1 * 0.1));
        let mut rates = [lr(1.0), lr(1e-5), lr(0.1 * 0.1), lr(0.01), lr(2.5e-3)];
        rates.sort();
        let values: Vec<f64> = rates.iter().map(|r| r.get()).collect();
        assert_eq!(values, [1e-5, 2.5e-3, 0.01, 0.1 * 0.1, 1.0]);
    }

    #[test]
    fn reads_and_writes_as_the_plain_number() {
        for (value, text) in [
            (0.01, "0.01"),
            (1e-5, "0.00001"),
            (1e-7, "1e-7"),
            (2.0, "2.0"),
        ] {
            assert_eq!(serde_json::to_string(&lr(value)).unwrap(), text);
            assert_eq!(
                serde_json::from_str::<LearningRate>(text).unwrap(),
                lr(value)
            );
        }
        assert_eq!(lr(1e-5).to_string(), "0.00001");
        assert!(serde_json::from_str::<LearningRate>("0").is_err());
        assert!(serde_json::from_str::<LearningRate>("-0.5").is_err());
    }
}
