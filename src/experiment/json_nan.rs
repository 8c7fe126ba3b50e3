//! JSON has no NaN or infinity: serde_json writes such a float as `null`. These read `null`
//! back as NaN, for the fields of results files that a diverged run leaves non-finite.

use serde::{Deserialize, Deserializer};

/// A float, `null` read as NaN.
pub(crate) fn scalar<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// Lists of floats (one per layer), `null` read as NaN.
pub(crate) fn nested<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<f64>>, D::Error> {
    let raw: Vec<Vec<Option<f64>>> = Deserialize::deserialize(d)?;
    Ok(raw
        .into_iter()
        .map(|layer| layer.into_iter().map(|v| v.unwrap_or(f64::NAN)).collect())
        .collect())
}

#[cfg(test)]
mod tests {
    use crate::experiment::train::EpochResult;

    #[test]
    fn non_finite_values_survive_a_round_trip_as_nan() {
        let epoch = EpochResult {
            epoch: 3,
            test_accuracy: 9.8,
            train_loss: f64::INFINITY,
            train_seconds: 1.5,
            activation_params: vec![vec![0.9, f64::NAN], vec![]],
        };
        let line = serde_json::to_string(&epoch).unwrap();
        assert!(line.contains("\"train_loss\":null"), "{line}");
        let back: EpochResult = serde_json::from_str(&line).unwrap();
        assert!(back.train_loss.is_nan());
        assert_eq!(back.activation_params[0][0], 0.9);
        assert!(back.activation_params[0][1].is_nan());
        assert!(back.activation_params[1].is_empty());
        // A number where a list belongs is still an error.
        assert!(serde_json::from_str::<EpochResult>(&line.replace("[0.9,null]", "0.9")).is_err());
    }
}
