//! insta snapshots of all 37 curves on a fixed grid, rounded to 6 decimals.

use arelu::{curve, ActivationName, ActivationVisitor};

struct Table(Vec<f64>);

impl ActivationVisitor for Table {
    type Output = String;
    fn visit<A: arelu::Activation>(self) -> String {
        curve::snapshot_table(&A::default(), &self.0)
    }
}

#[test]
fn every_curve_matches_its_snapshot() {
    let grid = curve::grid(-4.0, 4.0, 0.5).unwrap();
    for name in ActivationName::all() {
        let table = name.visit(Table(grid.clone()));
        insta::assert_snapshot!(format!("curve_{name}"), table);
    }
}
