//! Splitting a grid across machines: `--shard K/N` runs a fixed 1/N of the grid into its own
//! results file, and [`merge`](super::generate::merge) puts the N files back together.
//!
//! A run's shard depends only on its place in the grid's run order ([`Grid::specs`]): run `i`
//! (from 0) belongs to shard `i mod N + 1`. It does not depend on `--jobs`, on which runs
//! are done, or on the machine, so every shard can be started, interrupted and resumed on
//! its own. Consecutive runs go to different shards, so each shard gets a like mix of
//! activations (their costs differ).
//!
//! ```
//! use arelu::experiment::shard::Shard;
//!
//! let shard: Shard = "2/3".parse()?;
//! assert_eq!(shard.pick(&["a", "b", "c", "d", "e"]), ["b", "e"]);
//! assert_eq!(shard.dir_name(), "shard-2-of-3");
//! assert!("0/3".parse::<Shard>().is_err()); // shards count from 1
//! # Ok::<(), arelu::experiment::shard::ShardError>(())
//! ```
//!
//! [`Grid::specs`]: super::grid::Grid::specs

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// The most shards a grid is split into.
pub const MAX_SHARDS: usize = 100_000;

/// Shard `K` of `N` (`1 <= K <= N <= MAX_SHARDS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shard {
    index: usize,
    count: usize,
}

/// Why a shard is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ShardError {
    /// Not of the form `K/N`.
    #[error("--shard takes K/N (shard K of N, counted from 1), got `{0}`")]
    Syntax(String),
    /// `K` or `N` out of range.
    #[error("--shard K/N needs 1 <= K <= N <= {MAX_SHARDS}, got {index}/{count}")]
    OutOfRange {
        /// `K`.
        index: usize,
        /// `N`.
        count: usize,
    },
}

impl Shard {
    /// Shard `index` of `count`, both counted from 1.
    ///
    /// # Errors
    /// [`ShardError::OutOfRange`] unless `1 <= index <= count <= MAX_SHARDS`.
    pub fn new(index: usize, count: usize) -> Result<Self, ShardError> {
        if index == 0 || index > count || count > MAX_SHARDS {
            return Err(ShardError::OutOfRange { index, count });
        }
        Ok(Self { index, count })
    }

    /// `K`, from 1.
    pub fn index(self) -> usize {
        self.index
    }

    /// `N`.
    pub fn count(self) -> usize {
        self.count
    }

    /// Whether the run at `position` (from 0) of the grid's run order is in this shard.
    pub fn holds(self, position: usize) -> bool {
        position % self.count == self.index - 1
    }

    /// The items of `runs` (a grid's runs in order) that belong to this shard, in order.
    pub fn pick<T: Clone>(self, runs: &[T]) -> Vec<T> {
        runs.iter()
            .enumerate()
            .filter(|&(i, _)| self.holds(i))
            .map(|(_, run)| run.clone())
            .collect()
    }

    /// The directory this shard's results go into, inside the output directory:
    /// `shard-K-of-N`.
    pub fn dir_name(self) -> String {
        format!("shard-{}-of-{}", self.index, self.count)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = ShardError;
    fn from_str(s: &str) -> Result<Self, ShardError> {
        let syntax = || ShardError::Syntax(s.to_string());
        let (k, n) = s.split_once('/').ok_or_else(syntax)?;
        let k: usize = k.trim().parse().map_err(|_| syntax())?;
        let n: usize = n.trim().parse().map_err(|_| syntax())?;
        Self::new(k, n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shards_of_a_grid_are_disjoint_and_cover_it() {
        let runs: Vec<usize> = (0..103).collect();
        for count in [1, 2, 3, 7, 103, 200] {
            let mut seen = vec![0; runs.len()];
            for index in 1..=count {
                let part = Shard::new(index, count).unwrap().pick(&runs);
                // Balanced: sizes differ by at most one.
                assert!(part.len() == runs.len() / count || part.len() == runs.len() / count + 1);
                for run in part {
                    seen[run] += 1;
                }
            }
            assert!(seen.iter().all(|&n| n == 1), "{count} shards");
        }
    }

    #[test]
    fn a_runs_shard_depends_only_on_its_position() {
        let shard = Shard::new(2, 4).unwrap();
        assert_eq!(shard.pick(&(0..10).collect::<Vec<_>>()), [1, 5, 9]);
        // The first runs of a longer grid keep their shards.
        assert_eq!(shard.pick(&(0..12).collect::<Vec<_>>()), [1, 5, 9]);
        assert!(shard.holds(13) && !shard.holds(14));
    }

    #[test]
    fn shard_syntax_and_ranges_are_checked() {
        assert_eq!("3/3".parse(), Ok(Shard::new(3, 3).unwrap()));
        assert_eq!(
            " 1 / 2 ".parse::<Shard>().map(|s| s.to_string()),
            Ok("1/2".into())
        );
        for bad in ["", "3", "a/b", "1/", "/2", "-1/2", "1/2/3"] {
            assert!(
                matches!(bad.parse::<Shard>(), Err(ShardError::Syntax(_))),
                "{bad}"
            );
        }
        for (k, n) in [(0, 3), (4, 3), (1, 0), (1, MAX_SHARDS + 1)] {
            assert_eq!(
                Shard::new(k, n),
                Err(ShardError::OutOfRange { index: k, count: n })
            );
        }
    }
}
