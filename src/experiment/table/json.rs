//! `summary.json`: [`summary_json`], every cell and both comparisons.

use serde_json::{json, Value};

use super::summary::{Best, Summary};

fn best_json(best: &Option<Best>) -> Value {
    match best {
        Some(b) => json!({ "activations": b.activations, "mean": b.mean }),
        None => Value::Null,
    }
}

/// Everything the tables show, as JSON:
///
/// ```text
/// { "epochs": [1],
///   "columns": [{"optimizer": "sgd", "lr": 0.01, "label": "SGD 1e-2"}, ...],
///   "cells": [{"activation": "relu", "elsa": false, "type": "fixed", "optimizer": "sgd",
///              "lr": 0.01, "mean": 97.1, "std": 0.3, "n": 5}, ...],      // present cells only
///   "arelu_improvements": [{"optimizer", "lr", "arelu", "best_fixed": {"activations", "mean"},
///              "best_learnable": {...}, "over_best_fixed", "over_best_learnable"}, ...],
///   "elsa": {"improved": 12, "compared": 72,
///            "cells": [{"activation", "optimizer", "lr", "plain", "elsa", "improved"}, ...]} }
/// ```
///
/// Values that cannot be computed are `null`.
pub fn summary_json(summary: &Summary) -> Value {
    let column = |c: usize| summary.columns[c];
    let columns: Vec<Value> = summary
        .columns
        .iter()
        .map(|c| json!({ "optimizer": c.optimizer, "lr": c.lr, "label": c.header() }))
        .collect();
    let mut cells = Vec::new();
    for row in &summary.rows {
        for (c, cell) in row.cells.iter().enumerate() {
            if let Some(cell) = cell {
                cells.push(json!({
                    "activation": row.activation.base().as_str(),
                    "elsa": row.activation.is_elsa(),
                    "type": row.group().type_label(),
                    "optimizer": column(c).optimizer,
                    "lr": column(c).lr,
                    "mean": cell.mean,
                    "std": cell.std,
                    "n": cell.n,
                    "diverged": cell.diverged,
                }));
            }
        }
    }
    let improvements: Vec<Value> = summary
        .arelu_improvements()
        .iter()
        .map(|i| {
            json!({
                "optimizer": column(i.column).optimizer,
                "lr": column(i.column).lr,
                "arelu": i.arelu,
                "best_fixed": best_json(&i.best_fixed),
                "best_learnable": best_json(&i.best_learnable),
                "over_best_fixed": i.over_fixed,
                "over_best_learnable": i.over_learnable,
            })
        })
        .collect();
    let comparisons: Vec<Value> = summary
        .elsa_comparisons()
        .iter()
        .map(|e| {
            json!({
                "activation": e.activation.as_str(),
                "optimizer": column(e.column).optimizer,
                "lr": column(e.column).lr,
                "plain": e.plain,
                "elsa": e.elsa,
                "improved": e.improved,
            })
        })
        .collect();
    let (improved, compared) = summary.elsa_improvement_count();
    json!({
        "epochs": summary.epochs,
        "diverged_runs": summary.diverged_runs(),
        "columns": columns,
        "cells": cells,
        "arelu_improvements": improvements,
        "elsa": { "improved": improved, "compared": compared, "cells": comparisons },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::table::fixtures::*;

    #[test]
    fn json_has_cells_and_comparisons() {
        let v = summary_json(&summary());
        assert_eq!(v["cells"].as_array().unwrap().len(), 7 * 4 - 2);
        assert_eq!(v["columns"][1]["label"], "SGD 1e-4");
        assert_eq!(v["elsa"]["improved"], 6);
        assert_eq!(v["elsa"]["compared"], 10);
        let imp = &v["arelu_improvements"][1];
        assert_eq!(imp["optimizer"], "sgd");
        assert!((imp["over_best_fixed"].as_f64().unwrap() - 20.0).abs() < 1e-9);
        assert_eq!(imp["best_fixed"]["activations"][0], "sigmoid");
        let c = v["cells"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["activation"] == "relu" && c["elsa"] == false && c["optimizer"] == "sgd")
            .unwrap();
        assert_eq!(c["n"], 3);
        assert_eq!(c["type"], "fixed");
    }
}
