//! Meta-learning: the task sampler, the inner loop, the exactness of the second-order
//! meta-gradient, and the table generator end to end.

use std::collections::HashSet;

use arelu::experiment::maml::{Batch, Learner, MamlError, Order, Task, TaskSampler};
use arelu::mnist::{Mnist, MnistSplit};
use arelu::{Relu, Swish};

fn shipped() -> Mnist {
    Mnist::load_shipped().unwrap()
}

#[test]
fn sampler_draws_distinct_classes_and_disjoint_support_and_query() {
    let mnist = shipped();
    let (ways, shots) = (5, 3);
    let sampler = TaskSampler::new(&mnist.train.labels, ways, shots).unwrap();
    let pool = sampler.pool(50, 11);
    assert_eq!(pool.len(), 50);
    for task in &pool {
        let classes: HashSet<u8> = task.classes.iter().copied().collect();
        assert_eq!(classes.len(), ways, "distinct classes");
        assert!(task.classes.iter().all(|&c| c < 10));
        assert_eq!(task.support.len(), ways * shots);
        assert_eq!(task.query.len(), ways * shots);
        let support: HashSet<usize> = task.support.iter().copied().collect();
        let query: HashSet<usize> = task.query.iter().copied().collect();
        assert_eq!(support.len(), ways * shots, "support images distinct");
        assert_eq!(query.len(), ways * shots, "query images distinct");
        assert!(support.is_disjoint(&query));
        for (images, labels) in [
            (&task.support, &task.support_labels),
            (&task.query, &task.query_labels),
        ] {
            for label in 0..ways {
                assert_eq!(labels.iter().filter(|&&l| l == label).count(), shots);
            }
            for (&i, &label) in images.iter().zip(labels.iter()) {
                // The task label names the image's true digit.
                assert_eq!(mnist.train.labels[i], task.classes[label]);
            }
        }
    }
    assert_eq!(pool, sampler.pool(50, 11), "same seed, same tasks");
    assert_ne!(pool, sampler.pool(50, 12), "another seed, other tasks");
}

#[test]
fn sampler_refuses_bad_settings() {
    let labels: Vec<u8> = (0..40).map(|i| (i % 10) as u8).collect();
    assert!(matches!(
        TaskSampler::new(&labels, 5, 3),
        Err(MamlError::TooFewImages {
            needed: 6,
            available: 4,
            ..
        })
    ));
    assert!(TaskSampler::new(&labels, 1, 1).is_err());
    assert!(TaskSampler::new(&labels, 11, 1).is_err());
    assert!(TaskSampler::new(&labels, 5, 0).is_err());
    assert!(TaskSampler::new(&labels, 5, 2).is_ok());
}

fn batches<const N: usize>(
    learner_dev: &dfdx::tensor::Cpu,
    split: &MnistSplit,
    task: &Task,
) -> (Batch<N>, Batch<N>) {
    (
        Batch::new(learner_dev, split, &task.support, &task.support_labels).unwrap(),
        Batch::new(learner_dev, split, &task.query, &task.query_labels).unwrap(),
    )
}

#[test]
fn inner_loop_lowers_the_support_loss() {
    let mnist = shipped();
    let sampler = TaskSampler::new(&mnist.train.labels, 5, 5).unwrap();
    for (seed, task) in sampler.pool(3, 5).iter().enumerate() {
        let mut learner = Learner::<Relu, 5>::new(seed as u64);
        let (support, _) = batches::<5>(&learner.device().clone(), &mnist.train, task);
        let theta = learner.params();
        let (before, _, _) = learner.loss_and_gradient(&theta, &support, 0).unwrap();
        let (adapted, visited) = learner.adapt(&theta, &support, 5, 0.005, 0).unwrap();
        assert_eq!(visited.len(), 5);
        assert_eq!(visited[0], theta);
        let (after, _, _) = learner.loss_and_gradient(&adapted, &support, 0).unwrap();
        assert!(
            after < before,
            "support loss {before} -> {after} after five steps"
        );
    }
}

/// The meta-loss: the query loss after the inner loop from `theta`.
fn meta_loss(
    learner: &mut Learner<Swish, 5>,
    theta: &[f64],
    (support, query): (&Batch<5>, &Batch<5>),
    steps: usize,
    lr: f64,
) -> f64 {
    let (adapted, _) = learner.adapt(theta, support, steps, lr, 9).unwrap();
    learner
        .loss_and_gradient(&adapted, query, 99)
        .map(|(loss, _, _)| loss)
        .unwrap()
}

#[test]
fn second_order_meta_gradient_matches_finite_differences_and_first_order_does_not() {
    use rand::{Rng, SeedableRng};

    let mnist = shipped();
    let sampler = TaskSampler::new(&mnist.train.labels, 5, 1).unwrap();
    let task = &sampler.pool(1, 3)[0];
    let mut learner = Learner::<Swish, 5>::new(4);
    let (support, query) = batches::<5>(&learner.device().clone(), &mnist.train, task);
    let (steps, lr) = (3, 0.1);
    let theta = learner.params();
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let grad = |learner: &mut Learner<Swish, 5>, order| {
        let outcome = learner
            .meta_gradient(&theta, &support, &query, steps, lr, order, 9)
            .unwrap();
        // The query pass inside `meta_gradient` draws noise key `mix(9, steps)`; Swish has
        // none, so the meta-loss below may use any key.
        outcome.gradient
    };
    let second = grad(&mut learner, Order::Second);
    let first = grad(&mut learner, Order::First);
    let mut first_differs = false;
    for _ in 0..3 {
        let u: Vec<f64> = (0..theta.len()).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let u_norm = u.iter().map(|x| x * x).sum::<f64>().sqrt();
        let h = 1e-6 * (1.0 + theta.iter().map(|x| x * x).sum::<f64>().sqrt()) / u_norm;
        let at = |sign: f64| -> Vec<f64> {
            theta
                .iter()
                .zip(&u)
                .map(|(t, d)| t + sign * h * d)
                .collect()
        };
        let plus = meta_loss(&mut learner, &at(1.0), (&support, &query), steps, lr);
        let minus = meta_loss(&mut learner, &at(-1.0), (&support, &query), steps, lr);
        let numeric = (plus - minus) / (2.0 * h);
        let dot = |g: &[f64]| g.iter().zip(&u).map(|(a, b)| a * b).sum::<f64>();
        let (exact, approx) = (dot(&second), dot(&first));
        let rel = |a: f64| (a - numeric).abs() / numeric.abs().max(1e-12);
        assert!(
            rel(exact) < 1e-4,
            "second order {exact} vs finite difference {numeric} (relative {})",
            rel(exact)
        );
        first_differs |= rel(approx) > 1e-3;
    }
    assert!(first_differs, "first order equals the exact meta-gradient");
}

mod end_to_end {
    use arelu::experiment::grid::ElsaMode;
    use arelu::experiment::maml::{
        generate_maml, run_maml, MamlConfig, MamlError, MamlGrid, MamlSettings, MamlSpec, Order,
    };
    use arelu::mnist::Mnist;

    fn config() -> MamlConfig {
        MamlConfig {
            ways: 5,
            shots: 1,
            iterations: 2,
            tasks_per_step: 2,
            inner_steps: 2,
            inner_lr: 0.005,
            outer_lr: 0.005,
            order: Order::Second,
            pool_size: 4,
            test_tasks: 6,
        }
    }

    fn grid() -> MamlGrid {
        MamlGrid {
            activations: ["relu", "rrelu", "arelu"]
                .iter()
                .map(|s| s.parse().unwrap())
                .collect(),
            elsa: ElsaMode::Off,
            shots: vec![1, 2],
            seeds: 2,
        }
    }

    #[test]
    fn tiny_grid_end_to_end_and_resumed_grid_give_the_same_table() {
        let mnist = Mnist::load_shipped().unwrap();
        let settings = MamlSettings::new(
            &config(),
            "shipped subset".into(),
            &mnist.train,
            &mnist.test,
        );
        let data = (&mnist.train, &mnist.test);

        let tmp = tempfile::tempdir().unwrap();
        let whole = tmp.path().join("whole");
        let done = generate_maml(&grid(), data, &settings, &whole, 2, None, |_| {}).unwrap();
        assert_eq!((done.total, done.ran, done.skipped), (12, 12, 0));
        let table = std::fs::read_to_string(whole.join("table3.md")).unwrap();
        for name in ["| relu |", "| rrelu |", "| arelu |"] {
            let row = table.lines().find(|l| l.starts_with(name)).unwrap();
            // Two shot settings, each with a test figure, a train-pool figure and 2 seeds.
            assert_eq!(row.matches("| 2 |").count(), 2, "{row}");
            assert!(!row.contains('–'), "{row}");
        }
        let csv = std::fs::read_to_string(whole.join("results.csv")).unwrap();
        assert_eq!(csv.lines().count(), 13);

        // Interrupted after three runs, then resumed on one job: the same table.
        let resumed = tmp.path().join("resumed");
        let first = generate_maml(&grid(), data, &settings, &resumed, 1, Some(3), |_| {}).unwrap();
        assert_eq!(first.ran, 3);
        let partial = std::fs::read_to_string(resumed.join("table3.md")).unwrap();
        assert_ne!(partial, table);
        let rest = generate_maml(&grid(), data, &settings, &resumed, 1, None, |_| {}).unwrap();
        assert_eq!((rest.skipped, rest.ran), (3, 9));
        assert_eq!(
            std::fs::read_to_string(resumed.join("table3.md")).unwrap(),
            table
        );
        // Nothing left to do: a rerun makes no run.
        let again = generate_maml(&grid(), data, &settings, &resumed, 1, None, |_| {}).unwrap();
        assert_eq!((again.skipped, again.ran), (12, 0));

        // Other settings are refused, the file kept.
        let mut other = settings.clone();
        other.iterations = 3;
        assert!(generate_maml(&grid(), data, &other, &resumed, 1, None, |_| {}).is_err());
    }

    #[test]
    fn bad_settings_are_refused_before_any_work() {
        let mnist = Mnist::load_shipped().unwrap();
        let spec = |config: MamlConfig| MamlSpec {
            activation: "relu".parse().unwrap(),
            seed: 0,
            config,
        };
        for broken in [
            MamlConfig {
                ways: 3,
                ..config()
            },
            MamlConfig {
                shots: 0,
                ..config()
            },
            MamlConfig {
                inner_lr: f64::NAN,
                ..config()
            },
            MamlConfig {
                pool_size: 1,
                ..config()
            },
            MamlConfig {
                shots: 100_000,
                ..config()
            },
        ] {
            assert!(matches!(
                run_maml(spec(broken), &mnist.train, &mnist.test),
                Err(MamlError::Setting(_) | MamlError::TooFewImages { .. })
            ));
        }
    }
}
