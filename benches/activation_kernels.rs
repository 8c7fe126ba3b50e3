//! Forward + backward of every activation variant over 4M f32 elements through the fused
//! kernels, reported per element (criterion's throughput in elements).
//!
//! `cargo bench --bench activation_kernels` (all 37), or with a filter: `-- elsa-relu`.
//! The side-by-side figure for PyTorch comes from running its own benchmark in the same
//! sitting; the ratios that matter (`Elsa<A>` versus `A`) come from this one run.

use arelu::nn::fused::{self, Noise};
use arelu::Activation;
use arelu::{ActivationName, ActivationVisitor, BaseActivation};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use strum::IntoEnumIterator;

const N: usize = 4 * 1024 * 1024;

struct Bench<'a> {
    c: &'a mut Criterion,
    x: &'a [f32],
    g: &'a [f32],
}

impl ActivationVisitor for Bench<'_> {
    type Output = ();
    fn visit<A: Activation>(self) {
        let activation = A::default();
        let params: Vec<f32> = activation.params().iter().map(|&p| p as f32).collect();
        let mut y = vec![0.0f32; N];
        let mut dx = vec![0.0f32; N];
        let mut group = self.c.benchmark_group("forward+backward 4M f32");
        group.throughput(Throughput::Elements(N as u64));
        group.sample_size(10);
        group.bench_function(activation.name(), |b| {
            b.iter(|| {
                fused::forward(&activation, &params, Noise::Eval, self.x, &mut y);
                dx.iter_mut().for_each(|v| *v = 0.0);
                let sums =
                    fused::backward(&activation, &params, Noise::Eval, self.x, self.g, &mut dx);
                black_box((&y, &dx, sums));
            })
        });
        group.finish();
    }
}

fn activations(c: &mut Criterion) {
    // Deterministic inputs spread over [-4, 4), and an upstream gradient.
    let x: Vec<f32> = (0..N)
        .map(|i| ((i * 7919) % 8192) as f32 / 1024.0 - 4.0)
        .collect();
    let g: Vec<f32> = (0..N)
        .map(|i| ((i * 104_729) % 1000) as f32 / 1000.0 - 0.5)
        .collect();
    // Each base right before its ELSA form, so that the ratio that matters is measured
    // side by side rather than minutes apart on a machine whose load drifts.
    for base in BaseActivation::iter() {
        for elsa in [false, true] {
            if let Ok(name) = ActivationName::new(base, elsa) {
                name.visit(Bench { c, x: &x, g: &g });
            }
        }
    }
}

criterion_group!(benches, activations);
criterion_main!(benches);
