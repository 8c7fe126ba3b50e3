//! `results.csv`: [`results_csv`], one line per run.

use std::fmt::Write as _;

use crate::experiment::record::RunRecord;

/// Every run, one line each: `activation,elsa,optimizer,lr,seed,epoch,test_accuracy,
/// train_seconds`, sorted by paper order, ELSA (without first), optimiser (SGD first),
/// learning rate (descending), seed. Numbers are written exactly (Rust's shortest
/// round-trip form, e.g. `0.01`).
pub fn results_csv(records: &[RunRecord]) -> String {
    let mut sorted: Vec<&RunRecord> = records.iter().collect();
    sorted.sort_by(|a, b| {
        // Activation names order as the paper lists them, each alone before its ELSA form.
        a.activation
            .cmp(&b.activation)
            .then(a.optimizer.cmp(&b.optimizer))
            .then(b.lr.cmp(&a.lr))
            .then(a.seed.cmp(&b.seed))
    });
    let mut out =
        String::from("activation,elsa,optimizer,lr,seed,epoch,test_accuracy,train_seconds\n");
    for r in sorted {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{}",
            r.activation.base().as_str(),
            r.activation.is_elsa(),
            r.optimizer.as_str(),
            r.lr,
            r.seed,
            r.epoch,
            r.test_accuracy,
            r.train_seconds
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::table::fixtures::*;

    #[test]
    fn csv_rows_sorted() {
        let recs = records();
        let csv = results_csv(&recs);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[0],
            "activation,elsa,optimizer,lr,seed,epoch,test_accuracy,train_seconds"
        );
        assert_eq!(lines.len(), 1 + recs.len());
        assert_eq!(lines[1], "relu,false,sgd,0.01,0,1,97,1.5");
        assert_eq!(lines[2], "relu,false,sgd,0.01,1,1,98,1.5");
        assert_eq!(lines[4], "relu,false,sgd,0.0001,0,1,29.5,1.5");
        assert_eq!(lines[7], "relu,false,adam,0.01,0,1,96.5,1.5");
        let keys: Vec<(String, String)> = lines[1..]
            .iter()
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                (f[0].to_string(), f[1].to_string())
            })
            .collect();
        let mut blocks: Vec<(String, String)> = keys.clone();
        blocks.dedup();
        let expected: Vec<(String, String)> = [
            ("relu", "false"),
            ("relu", "true"),
            ("sigmoid", "false"),
            ("sigmoid", "true"),
            ("prelu", "false"),
            ("prelu", "true"),
            ("arelu", "false"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        assert_eq!(blocks, expected);
        assert!(lines
            .last()
            .unwrap()
            .starts_with("arelu,false,adam,0.0001,2,"));
    }
}
