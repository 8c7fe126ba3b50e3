//! A seed's training is bit-identical whatever the number of threads: every reduction of the
//! layers (weight and bias gradients summed over the images of a batch) runs in a fixed
//! order, so runs split over several `--jobs` (one thread each) agree with runs on all cores.

use arelu::experiment::batches::Images;
use arelu::experiment::train::{train_run, RunSpec};
use arelu::experiment::{LearningRate, Optimizer};
use arelu::mnist::Mnist;
use arelu::nn::conv::Conv2D;
use arelu::nn::pool::MaxPool2D;
use arelu::nn::MnistConv;
use arelu::{ActivationName, Arelu, Elsa, Rrelu};
use dfdx::losses::cross_entropy_with_logits_loss;
use dfdx::nn::{RecursiveWalker, TensorVisitor, ViewTensorRef};
use dfdx::optim::{Optimizer as _, Sgd};
use dfdx::prelude::*;

/// The thread counts compared: one, the two cores of a small machine, and an odd count.
const THREADS: [usize; 3] = [1, 2, 3];

/// Runs `f` on a rayon pool of `threads` threads.
fn in_pool<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a thread pool")
        .install(f)
}

fn shipped_images() -> Images {
    let mnist = Mnist::load_shipped().expect("the shipped subset");
    Images::new(&mnist.train)
}

/// The bit patterns of `values`, so that equal NaNs compare equal and -0 differs from 0.
fn bits(values: impl IntoIterator<Item = f32>) -> Vec<u32> {
    values.into_iter().map(f32::to_bits).collect()
}

/// SGD steps of `MnistConv<A>` on batches of `batch` images; every parameter afterwards.
fn mnist_conv_params<A>(images: &Images, batch: usize, steps: usize) -> Vec<u32>
where
    A: BuildOnDevice<Cpu, f32>,
    MnistConv<A>: BuildOnDevice<Cpu, f32>,
    <MnistConv<A> as BuildOnDevice<Cpu, f32>>::Built: ModuleMut<
            arelu::nn::MnistInput<f32, Cpu, OwnedTape<f32, Cpu>>,
            Output = Tensor<(usize, Const<10>), f32, Cpu, OwnedTape<f32, Cpu>>,
            Error = CpuError,
        > + TensorCollection<f32, Cpu>,
{
    let dev = Cpu::seed_from_u64(5);
    let mut model = dev.build_module::<MnistConv<A>, f32>();
    let mut sgd = Sgd::new(
        &model,
        SgdConfig {
            lr: 0.05,
            momentum: Some(Momentum::Classic(0.9)),
            weight_decay: None,
        },
    );
    let mut grads = model.alloc_grads();
    for step in 0..steps {
        let indices: Vec<usize> = (step * batch..(step + 1) * batch).collect();
        let (x, y) = images.batch(&dev, &indices);
        let logits = model.forward_mut(x.traced(grads));
        grads = cross_entropy_with_logits_loss(logits, y).backward();
        sgd.update(&mut model, &grads)
            .expect("every parameter is used");
        model.zero_grads(&mut grads);
    }
    all_params(&model)
}

/// Every tensor of a model, flattened in the order dfdx visits them.
fn all_params<M: TensorCollection<f32, Cpu>>(model: &M) -> Vec<u32> {
    struct Collect(Vec<f32>);
    impl TensorVisitor<f32, Cpu> for Collect {
        type Viewer = ViewTensorRef;
        type Err = CpuError;
        type E2 = f32;
        type D2 = Cpu;
        fn visit<S: Shape>(
            &mut self,
            _: TensorOptions<S, f32, Cpu>,
            t: &Tensor<S, f32, Cpu>,
        ) -> Result<Option<Tensor<S, f32, Cpu>>, CpuError> {
            self.0.extend(t.as_vec());
            Ok(None)
        }
    }
    let mut collect = Collect(Vec::new());
    M::iter_tensors(&mut RecursiveWalker {
        m: model,
        f: &mut collect,
    })
    .expect("visiting the tensors cannot fail");
    bits(collect.0)
}

fn assert_same_for_every_thread_count(run: impl Fn() -> Vec<u32> + Sync, what: &str) {
    let results: Vec<Vec<u32>> = THREADS.iter().map(|&t| in_pool(t, &run)).collect();
    assert!(!results[0].is_empty(), "{what}: nothing compared");
    for (threads, result) in THREADS.iter().zip(&results).skip(1) {
        let differ = result
            .iter()
            .zip(&results[0])
            .filter(|(a, b)| a != b)
            .count();
        assert_eq!(
            result.len(),
            results[0].len(),
            "{what}: lengths with {threads} threads"
        );
        assert_eq!(
            differ, 0,
            "{what}: {differ} values differ between 1 and {threads} threads"
        );
    }
}

#[test]
fn mnist_conv_training_is_bit_identical_for_any_thread_count() {
    let images = shipped_images();
    // the paper's batch, and one that does not split into whole blocks of images
    for batch in [128, 100] {
        assert_same_for_every_thread_count(
            || mnist_conv_params::<Arelu>(&images, batch, 3),
            &format!("MnistConv<Arelu>, batch {batch}"),
        );
    }
    // stochastic noise and parameters of the inner activation
    assert_same_for_every_thread_count(
        || mnist_conv_params::<Elsa<Rrelu>>(&images, 64, 2),
        "MnistConv<Elsa<Rrelu>>",
    );
}

#[test]
fn conv2d_training_is_bit_identical_for_any_thread_count() {
    type Net = (
        Conv2D<1, 6, 5>,
        MaxPool2D<2>,
        Arelu,
        Conv2D<6, 8, 3>,
        MaxPool2D<2>,
    );
    let images = shipped_images();
    let run = || {
        let dev = Cpu::seed_from_u64(9);
        let mut model = dev.build_module::<Net, f32>();
        let mut sgd = Sgd::new(&model, SgdConfig::default());
        let mut grads = model.alloc_grads();
        for step in 0..3 {
            let indices: Vec<usize> = (step * 100..(step + 1) * 100).collect();
            let (x, _) = images.batch(&dev, &indices);
            let x = x.reshape_like(&(100, Const::<1>, 28, 28));
            let y = model.forward_mut(x.traced(grads));
            grads = y.square().mean().backward();
            sgd.update(&mut model, &grads)
                .expect("every parameter is used");
            model.zero_grads(&mut grads);
        }
        all_params(&model)
    };
    assert_same_for_every_thread_count(run, "Conv2D and MaxPool2D");
}

#[test]
fn train_run_is_bit_identical_for_any_thread_count() {
    let mut mnist = Mnist::load_shipped().expect("the shipped subset");
    mnist.train.truncate(300);
    mnist.test.truncate(100);
    let (train, test) = (Images::new(&mnist.train), Images::new(&mnist.test));
    let spec = RunSpec {
        activation: "arelu".parse::<ActivationName>().expect("a variant"),
        optimizer: Optimizer::Adam,
        lr: LearningRate::new(1e-3).expect("a learning rate"),
        seed: 3,
        epochs: 1,
        initial_alpha_beta: None,
    };
    assert_same_for_every_thread_count(
        || {
            let epoch = train_run(spec, &train, &test).epochs.remove(0);
            let mut values = vec![epoch.train_loss, epoch.test_accuracy];
            values.extend(epoch.activation_params.concat());
            values
                .iter()
                .map(|v| v.to_bits() as u32 ^ (v.to_bits() >> 32) as u32)
                .collect()
        },
        "train_run",
    );
}
