//! Few-shot tasks drawn from MNIST: `N` distinct digits, `2K` images of each, `K` for
//! adaptation (support) and `K` for evaluation (query), labels remapped to `0..N`.

use rand::rngs::StdRng;
use rand::seq::index::sample;
use rand::{Rng, SeedableRng};

use super::MamlError;

/// The number of digit classes in MNIST.
pub const DIGITS: usize = 10;

/// One N-way K-shot task: image indices into one split, with labels in `0..N`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    /// The digits of the task; label `j` stands for `classes[j]`.
    pub classes: Vec<u8>,
    /// Support images (K per class), for the inner loop.
    pub support: Vec<usize>,
    /// Their labels, in `0..N`.
    pub support_labels: Vec<usize>,
    /// Query images (K per class, none of them in the support set), for the meta-loss and
    /// the accuracy.
    pub query: Vec<usize>,
    /// Their labels, in `0..N`.
    pub query_labels: Vec<usize>,
}

/// Draws N-way K-shot tasks from the images of one split.
///
/// ```
/// use arelu::experiment::maml::TaskSampler;
///
/// // Ten images of each digit.
/// let labels: Vec<u8> = (0..100).map(|i| (i % 10) as u8).collect();
/// let sampler = TaskSampler::new(&labels, 5, 2).unwrap();
/// let pool = sampler.pool(3, 7);
/// assert_eq!(pool.len(), 3);
/// assert_eq!(pool[0].support.len(), 10);
/// assert_eq!(pool, sampler.pool(3, 7)); // same seed, same tasks
/// assert!(TaskSampler::new(&labels, 5, 6).is_err()); // 12 images per digit needed
/// ```
#[derive(Debug, Clone)]
pub struct TaskSampler {
    by_class: Vec<Vec<usize>>,
    ways: usize,
    shots: usize,
}

impl TaskSampler {
    /// A sampler over images with these `labels` (digits `0..10`), drawing `ways` classes of
    /// `2 * shots` images each.
    ///
    /// # Errors
    /// [`MamlError::Setting`] when `ways` is not in `2..=10` or `shots` is 0, and
    /// [`MamlError::TooFewImages`] when a digit has fewer than `2 * shots` images.
    pub fn new(labels: &[u8], ways: usize, shots: usize) -> Result<Self, MamlError> {
        if !(2..=DIGITS).contains(&ways) {
            return Err(MamlError::Setting(format!(
                "ways must be between 2 and {DIGITS}, got {ways}"
            )));
        }
        if shots == 0 {
            return Err(MamlError::Setting("shots must be at least 1".into()));
        }
        let mut by_class = vec![Vec::new(); DIGITS];
        for (i, &label) in labels.iter().enumerate() {
            if let Some(class) = by_class.get_mut(label as usize) {
                class.push(i);
            }
        }
        let needed = shots.saturating_mul(2);
        if let Some((digit, images)) = by_class
            .iter()
            .enumerate()
            .find(|(_, images)| images.len() < needed)
        {
            return Err(MamlError::TooFewImages {
                digit,
                needed,
                available: images.len(),
            });
        }
        Ok(Self {
            by_class,
            ways,
            shots,
        })
    }

    /// Classes per task.
    pub fn ways(&self) -> usize {
        self.ways
    }

    /// Support (and query) images per class.
    pub fn shots(&self) -> usize {
        self.shots
    }

    /// One task drawn with `rng`: distinct classes in random order, distinct images.
    pub fn sample<R: Rng>(&self, rng: &mut R) -> Task {
        let classes: Vec<usize> = sample(rng, DIGITS, self.ways).into_vec();
        let k = self.shots;
        let mut task = Task {
            classes: classes.iter().map(|&c| c as u8).collect(),
            support: Vec::with_capacity(self.ways * k),
            support_labels: Vec::with_capacity(self.ways * k),
            query: Vec::with_capacity(self.ways * k),
            query_labels: Vec::with_capacity(self.ways * k),
        };
        for (label, &class) in classes.iter().enumerate() {
            let images = &self.by_class[class];
            let picked = sample(rng, images.len(), 2 * k);
            for (j, position) in picked.into_iter().enumerate() {
                let (set, labels) = if j < k {
                    (&mut task.support, &mut task.support_labels)
                } else {
                    (&mut task.query, &mut task.query_labels)
                };
                set.push(images[position]);
                labels.push(label);
            }
        }
        task
    }

    /// `n` tasks drawn from `seed`: the same seed gives the same tasks.
    pub fn pool(&self, n: usize, seed: u64) -> Vec<Task> {
        let mut rng = StdRng::seed_from_u64(seed);
        (0..n).map(|_| self.sample(&mut rng)).collect()
    }
}
