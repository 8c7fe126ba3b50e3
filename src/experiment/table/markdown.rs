//! Tables 1 and 4 as markdown: [`table1_markdown`] and [`table4_markdown`], with their
//! legends.

use std::fmt::Write as _;

use super::summary::{AreluImprovement, Best, Cell, Group, Summary};
use crate::name::{ActivationName, BaseActivation};

/// The text of a missing cell (no run) or of a difference that cannot be computed.
pub const MISSING: &str = "–";

impl Summary {
    /// "test accuracy (%) after epoch 1, mean ± sample std over 5 seeds" for the rows with
    /// this `elsa`.
    fn measure_line(&self, elsa: bool) -> String {
        let rows = || self.rows.iter().filter(|r| r.activation.is_elsa() == elsa);
        let ns: Vec<usize> = rows()
            .flat_map(|r| r.cells.iter().flatten().map(|c| c.n + c.diverged))
            .collect();
        let diverged: usize = rows()
            .flat_map(|r| r.cells.iter().flatten().map(|c| c.diverged))
            .sum();
        let max = ns.iter().copied().max().unwrap_or(0);
        let min = ns.iter().copied().min().unwrap_or(0);
        let seeds = match (max, min) {
            (1, _) => "1 seed (no standard deviation)".to_string(),
            (max, min) if min < max => format!("{max} seeds (as few as {min} in some cells)"),
            (max, _) => format!("{max} seeds"),
        };
        let epoch = match self.epochs.as_slice() {
            [] => "the last epoch".to_string(),
            [e] => format!("epoch {e}"),
            many => format!(
                "epochs {} (mixed)",
                many.iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let diverged = if diverged > 0 {
            format!(
                " div k/n: k of the cell's n seeds diverged (non-finite loss or parameters; \
                 {diverged} runs in all); such a cell is never marked best nor compared."
            )
        } else {
            String::new()
        };
        format!(
            "Values: test accuracy (%) after {epoch}, mean ± sample standard deviation over \
             {seeds}; {MISSING}: no run.{diverged}"
        )
    }

    fn header(&self, out: &mut String) {
        out.push_str("| activation | type |");
        for c in &self.columns {
            let _ = write!(out, " {} |", c.header());
        }
        out.push_str("\n|---|---|");
        for _ in &self.columns {
            out.push_str("---:|");
        }
        out.push('\n');
    }
}

/// `+12.34` / `-3.00`, never `-0.00`.
fn signed(d: f64) -> String {
    let mut r = (d * 100.0).round() / 100.0;
    if r == 0.0 {
        r = 0.0;
    }
    format!("{r:+.2}")
}

fn cell_text(cell: Option<&Cell>) -> String {
    cell.map_or_else(|| MISSING.to_string(), Cell::text)
}

/// Table 1: every activation without ELSA, one column per (optimiser, learning rate).
///
/// Markers, per column: **bold** the best fixed activation, _italic_ the best learnable
/// activation other than AReLU, † the best of all activations (ties all marked). Two
/// bottom rows give AReLU's mean minus the best fixed and minus the best other learnable
/// mean (`+12.34`, or `–`). A legend follows the table.
pub fn table1_markdown(summary: &Summary) -> String {
    let mut out = String::new();
    summary.header(&mut out);
    let all = [Group::Fixed, Group::Learnable, Group::Arelu];
    let columns = summary.columns.len();
    let best_fixed: Vec<_> = (0..columns)
        .map(|c| summary.best(c, false, &[Group::Fixed]))
        .collect();
    let best_learnable: Vec<_> = (0..columns)
        .map(|c| summary.best(c, false, &[Group::Learnable]))
        .collect();
    let best_all: Vec<_> = (0..columns).map(|c| summary.best(c, false, &all)).collect();
    let is_in = |best: &Option<Best>, name: ActivationName| {
        best.as_ref().is_some_and(|b| b.activations.contains(&name))
    };
    for row in summary.rows.iter().filter(|r| !r.activation.is_elsa()) {
        let _ = write!(out, "| {} | {} |", row.name(), row.group().type_label());
        for (c, cell) in row.cells.iter().enumerate() {
            let mut text = cell_text(cell.as_ref());
            if cell.is_some() {
                if row.group() == Group::Fixed && is_in(&best_fixed[c], row.activation) {
                    text = format!("**{text}**");
                }
                if row.group() == Group::Learnable && is_in(&best_learnable[c], row.activation) {
                    text = format!("_{text}_");
                }
                if is_in(&best_all[c], row.activation) {
                    text.push_str(" †");
                }
            }
            let _ = write!(out, " {text} |");
        }
        out.push('\n');
    }
    let improvements = summary.arelu_improvements();
    for (label, pick) in [
        (
            "AReLU − best fixed",
            (|i: &AreluImprovement| i.over_fixed) as fn(&AreluImprovement) -> Option<f64>,
        ),
        ("AReLU − best learnable", |i: &AreluImprovement| {
            i.over_learnable
        }),
    ] {
        let _ = write!(out, "| {label} | |");
        for i in &improvements {
            let text = pick(i).map_or_else(|| MISSING.to_string(), signed);
            let _ = write!(out, " {text} |");
        }
        out.push('\n');
    }
    out.push('\n');
    let _ = writeln!(
        out,
        "**bold**: best fixed activation in the column; _italic_: best learnable activation \
         other than AReLU (apl, mixture, pau, prelu, slaf); †: best of all activations in the \
         column. {} The bottom rows give AReLU's mean minus the column's best fixed / best \
         other learnable mean, in points.",
        summary.measure_line(false)
    );
    out
}

/// Table 4: every activation wrapped in ELSA (rows `elsa-<name>`), same columns as Table 1.
///
/// A cell is underlined (`<u>...</u>`) where ELSA's mean beats the same activation alone
/// (the Table 1 cell). A bottom row counts, per column, the improved cells among those
/// where both ran; the legend gives the total ("ELSA improves N of M cells").
pub fn table4_markdown(summary: &Summary) -> String {
    let mut out = String::new();
    summary.header(&mut out);
    let comparisons = summary.elsa_comparisons();
    let improved = |activation: BaseActivation, column: usize| {
        comparisons
            .iter()
            .any(|c| c.improved && c.column == column && c.activation == activation)
    };
    for row in summary.rows.iter().filter(|r| r.activation.is_elsa()) {
        let _ = write!(out, "| {} | {} |", row.name(), row.group().type_label());
        for (c, cell) in row.cells.iter().enumerate() {
            let mut text = cell_text(cell.as_ref());
            if improved(row.activation.base(), c) {
                text = format!("<u>{text}</u>");
            }
            let _ = write!(out, " {text} |");
        }
        out.push('\n');
    }
    out.push_str("| ELSA improves | |");
    for c in 0..summary.columns.len() {
        let compared = comparisons.iter().filter(|x| x.column == c).count();
        let better = comparisons
            .iter()
            .filter(|x| x.column == c && x.improved)
            .count();
        let _ = write!(out, " {better}/{compared} |");
    }
    out.push('\n');
    out.push('\n');
    let (better, compared) = summary.elsa_improvement_count();
    let _ = writeln!(
        out,
        "<u>underlined</u>: ELSA's mean beats the same activation alone (Table 1) in that \
         column. ELSA improves {better} of {compared} cells (cells where both ran). {}",
        summary.measure_line(true)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::record::RunRecord;
    use crate::experiment::table::fixtures::*;
    use crate::experiment::table::summary_json;

    #[test]
    fn table1_cells_marks_and_bottom_rows() {
        let s = summary();
        let md = table1_markdown(&s);
        let t = rows(&md);
        assert_eq!(t[0][0], "activation");
        assert_eq!(
            &t[0][2..],
            ["SGD 1e-2", "SGD 1e-4", "Adam 1e-2", "Adam 1e-4"]
        );
        // 4 plain activations + 2 bottom rows, no ELSA row.
        assert_eq!(t.len(), 1 + 4 + 2);
        assert!(!md.contains("elsa-"));
        // Every present cell appears with its value; the missing one shows `–`.
        for (act, elsa, means) in MEANS.iter().filter(|m| !m.1) {
            let row = find(&t, act);
            assert_eq!(row.len(), 6);
            for (c, _) in means.iter().enumerate() {
                let text = &row[2 + c];
                match s.cell(name(act, *elsa), c) {
                    Some(cell) => assert!(text.contains(&cell.text()), "{act} {c}: {text}"),
                    None => assert_eq!(text, MISSING),
                }
            }
        }
        assert_eq!(find(&t, "sigmoid")[5], "–");
        assert_eq!(find(&t, "sigmoid")[1], "fixed");
        assert_eq!(find(&t, "arelu")[1], "learnable");
        // Best fixed: relu in SGD 1e-2 (98.17 > 90), sigmoid in SGD 1e-4 (40 > 30).
        assert_eq!(find(&t, "relu")[2], "**98.17 ± 1.26**");
        assert_eq!(find(&t, "sigmoid")[2], "90.00 ± 0.50");
        assert_eq!(find(&t, "sigmoid")[3], "**40.00 ± 0.50**");
        assert_eq!(find(&t, "relu")[3], "30.00 ± 0.50");
        // Adam 1e-2: relu is best fixed and best overall.
        assert_eq!(find(&t, "relu")[4], "**97.00 ± 0.50** †");
        // Adam 1e-4: sigmoid missing, relu best fixed.
        assert_eq!(find(&t, "relu")[5], "**90.00 ± 0.50**");
        // Best other learnable: prelu, italic, in every column.
        assert_eq!(find(&t, "prelu")[2], "_97.50 ± 0.50_");
        assert_eq!(find(&t, "prelu")[4], "_96.00 ± 0.50_");
        // AReLU: never bold/italic, † where best overall.
        assert_eq!(find(&t, "arelu")[2], "98.50 ± 0.50 †");
        assert_eq!(find(&t, "arelu")[4], "94.00 ± 0.50");
        // AReLU − best fixed: 98.5 - 98.1667, 60 - 40, 94 - 97, 92 - 90.
        assert_eq!(
            &find(&t, "AReLU − best fixed")[2..],
            ["+0.33", "+20.00", "-3.00", "+2.00"]
        );
        // AReLU − best learnable (prelu): 98.5 - 97.5, 60 - 50, 94 - 96, 92 - 91.
        assert_eq!(
            &find(&t, "AReLU − best learnable")[2..],
            ["+1.00", "+10.00", "-2.00", "+1.00"]
        );
        assert!(md.contains("over 3 seeds"), "{md}");
        assert!(md.contains("after epoch 1,"), "{md}");
    }

    #[test]
    fn table1_without_arelu_or_runs_shows_dashes() {
        let recs: Vec<RunRecord> = records()
            .into_iter()
            .filter(|r| r.activation != name("arelu", false))
            .collect();
        let s = Summary::from_records(&recs, &[SGD], &lrs(&[1e-2, 1e-5]));
        let t = rows(&table1_markdown(&s));
        assert_eq!(&find(&t, "AReLU − best fixed")[2..], ["–", "–"]);
        assert_eq!(&find(&t, "AReLU − best learnable")[2..], ["–", "–"]);
        // No run at 1e-5 at all.
        assert_eq!(find(&t, "relu")[3], "–");
        assert_eq!(find(&t, "prelu")[3], "–");
        assert!(t.iter().all(|r| r[0] != "arelu"));
        // Best learnable without any learnable run.
        let only_fixed: Vec<RunRecord> = recs
            .into_iter()
            .filter(|r| r.activation != name("prelu", false))
            .collect();
        let s = Summary::from_records(&only_fixed, &[SGD], &lrs(&[1e-2]));
        assert!(s.arelu_improvements()[0].best_learnable.is_none());
    }

    #[test]
    fn table4_marks_exactly_the_improved_cells() {
        let s = summary();
        let md = table4_markdown(&s);
        let t = rows(&md);
        assert_eq!(t.len(), 1 + 3 + 1);
        assert!(t.iter().all(|r| r[0] != "arelu" && r[0] != "relu"));
        for (act, _, means) in MEANS.iter().filter(|m| m.1) {
            let row = find(&t, &format!("elsa-{act}"));
            for (c, _) in means.iter().enumerate() {
                let text = &row[2 + c];
                let expected = match (s.cell(name(act, true), c), s.cell(name(act, false), c)) {
                    (Some(e), Some(p)) if e.mean > p.mean => format!("<u>{}</u>", e.text()),
                    (Some(e), _) => e.text(),
                    (None, _) => MISSING.to_string(),
                };
                assert_eq!(text, &expected, "elsa-{act} column {c}");
            }
        }
        // By hand: relu SGD 1e-2 (98.3 > 98.17) and SGD 1e-4; relu Adam 1e-4 ties: unmarked;
        // sigmoid Adam 1e-4 has no plain run: unmarked; prelu Adam 1e-2 missing.
        let relu = find(&t, "elsa-relu");
        assert_eq!(relu[2], "<u>98.30 ± 0.50</u>");
        assert_eq!(relu[5], "90.00 ± 0.50");
        assert_eq!(find(&t, "elsa-sigmoid")[5], "80.00 ± 0.50");
        assert_eq!(find(&t, "elsa-prelu")[4], "–");
        assert_eq!(md.matches("<u>").count(), 6 + 1); // 6 cells + the legend
        assert_eq!(s.elsa_improvement_count(), (6, 10));
        assert_eq!(
            &find(&t, "ELSA improves")[2..],
            ["1/3", "3/3", "1/2", "1/2"]
        );
        assert!(md.contains("ELSA improves 6 of 10 cells"), "{md}");
    }

    #[test]
    fn diverged_runs_are_shown_counted_and_never_best() {
        let mut recs = records();
        // sigmoid Adam 1e-4 had no run; relu SGD 1e-4 diverges in one seed of three and
        // prelu SGD 1e-2 in every seed, each with an accuracy that would otherwise win.
        for seed in 0..2 {
            let mut r = record("sigmoid", false, ADAM, 1e-4, seed, 99.9);
            r.diverged_at = Some(1);
            recs.push(r);
        }
        for r in recs.iter_mut().filter(|r| {
            let sgd_at = |lr: f64| r.optimizer == SGD && r.lr.get() == lr;
            (r.activation == name("relu", false) && sgd_at(1e-4) && r.seed == 0)
                || (r.activation == name("prelu", false) && sgd_at(1e-2))
        }) {
            r.diverged_at = Some(1);
            r.test_accuracy = 99.9;
        }
        let s = Summary::from_records(&recs, &OPTS, &lrs(&LRS));
        let t = rows(&table1_markdown(&s));
        assert_eq!(find(&t, "sigmoid")[5], "div 2/2");
        assert_eq!(find(&t, "relu")[3], "div 1/3");
        assert_eq!(find(&t, "prelu")[2], "div 3/3");
        // Best fixed in SGD 1e-4 is now sigmoid alone; no learnable other than AReLU in
        // SGD 1e-2, so that bottom cell is missing; Adam 1e-4's best fixed stays relu.
        assert_eq!(find(&t, "sigmoid")[3], "**40.00 ± 0.50**");
        assert_eq!(find(&t, "AReLU − best learnable")[2], MISSING);
        assert_eq!(find(&t, "relu")[5], "**90.00 ± 0.50**");
        assert!(!t
            .iter()
            .any(|r| r.iter().any(|c| c.contains("div") && c.contains('*'))));
        assert!(!t
            .iter()
            .any(|r| r.iter().any(|c| c.contains("div") && c.contains('†'))));
        assert_eq!(s.diverged_runs(), 2 + 1 + 3);
        let v = summary_json(&s);
        assert_eq!(v["diverged_runs"], 6);
        // elsa-relu SGD 1e-4 and elsa-prelu SGD 1e-2 are no longer compared with their
        // diverged plain cells.
        assert_eq!(s.elsa_improvement_count(), (5, 8));
        assert!(table1_markdown(&s).contains("6 runs in all"));
    }

    #[test]
    fn one_seed_cells_have_no_deviation() {
        let recs = [record("relu", false, SGD, 1e-2, 0, 97.0)];
        let md = table1_markdown(&Summary::from_records(&recs, &[SGD], &lrs(&[1e-2])));
        assert_eq!(find(&rows(&md), "relu")[2], "**97.00** †");
        assert!(!md.contains("± 0.00") && md.contains("1 seed (no standard deviation)"));
    }

    #[test]
    #[ignore = "prints the tables of the synthetic data"]
    fn print_tables() {
        let s = summary();
        println!("{}\n{}", table1_markdown(&s), table4_markdown(&s));
    }
}
