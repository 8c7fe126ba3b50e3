//! f32 and f64 evaluate the same definitions and agree to f32 precision.

use crate::all_variants;

#[test]
fn f32_agrees_with_f64() {
    let xs: Vec<f64> = (-48..=48).map(|i| i as f64 * 0.13 + 0.01).collect();
    for act in all_variants() {
        let p64 = act.params();
        let p32: Vec<f32> = p64.iter().map(|&v| v as f32).collect();
        // The f64 reference uses the f32-rounded parameters, so only arithmetic differs.
        let p64: Vec<f64> = p32.iter().map(|&v| v as f64).collect();
        for &x in &xs {
            let x32 = x as f32;
            let x = x32 as f64;
            let tol = |v: f64| 2e-6 * v.abs().max(1.0);
            let (y64, y32) = (
                act.value64(&p64, x, 0.5),
                act.value32(&p32, x32, 0.5) as f64,
            );
            assert!(
                (y64 - y32).abs() <= tol(y64),
                "{} y({x}): {y64} vs {y32}",
                act.name()
            );
            let (d64, g64) = act.grads64(&p64, x, 0.5);
            let (d32, g32) = act.grads32(&p32, x32, 0.5);
            let d32 = d32 as f64;
            assert!(
                (d64 - d32).abs() <= tol(d64),
                "{} dy/dx({x}): {d64} vs {d32}",
                act.name()
            );
            for (a, b) in g64.iter().zip(&g32) {
                let b = *b as f64;
                assert!(
                    (a - b).abs() <= tol(*a),
                    "{} dθ({x}): {a} vs {b}",
                    act.name()
                );
            }
        }
    }
}
