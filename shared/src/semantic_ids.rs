//! Semantic document IDs for generative retrieval (DSI, NCI): hierarchical k-means over the
//! documents' unit vectors. The documents split into at most `branching` clusters, each cluster
//! with more than `leaf_size` documents splits again, and a document's ID is the path of cluster
//! digits from the root down, ended by its place in its leaf. Documents near each other in the
//! teacher's space share long prefixes, so a decoder that emits the ID digit by digit learns
//! the corpus coarse to fine.
//!
//! No cluster holds more than `balance` times an even split (`n / branching`), so every level
//! divides its documents (identical vectors included) and IDs stay short. Building is
//! deterministic for a seed ([`crate::kmeans`]); no two documents share an ID, and no ID is a
//! prefix of another (documents sit only in leaves).

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::dense::dot;
use crate::kmeans;
use crate::rng::SplitMix;

/// How IDs are built.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SemanticIdConfig {
    /// Clusters per level (`k`).
    pub branching: usize,
    /// Most documents in a leaf (`c`); the last digit is a document's place in its leaf.
    pub leaf_size: usize,
    /// Largest cluster of a split, as a multiple of an even split (`n / branching`).
    pub balance: f32,
    /// Rounds of k-means per split.
    pub iterations: usize,
    /// Documents k-means trains on per cluster of a split; the rest are only assigned.
    pub sample_per_cluster: usize,
    pub seed: u64,
}

impl Default for SemanticIdConfig {
    fn default() -> Self {
        Self { branching: 32, leaf_size: 32, balance: 2.0, iterations: 10, sample_per_cluster: 256, seed: 1 }
    }
}

#[derive(Debug, Error, PartialEq)]
pub enum SemanticIdError {
    #[error("semantic IDs: {0}")]
    Config(String),
    #[error("semantic IDs: {vectors} values are no whole number of {dim}-dimensional vectors")]
    Shape { vectors: usize, dim: usize },
}

/// Every document's ID, in document order. Read back (serde), a table goes through
/// [`SemanticIds::from_ids`]'s checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "StoredIds")]
pub struct SemanticIds {
    pub config: SemanticIdConfig,
    /// Each document's digits, from the root down.
    ids: Vec<Vec<u16>>,
}

/// A table as stored, before its checks.
#[derive(Deserialize)]
struct StoredIds {
    config: SemanticIdConfig,
    ids: Vec<Vec<u16>>,
}

impl TryFrom<StoredIds> for SemanticIds {
    type Error = SemanticIdError;

    fn try_from(stored: StoredIds) -> Result<Self, Self::Error> {
        Self::from_ids(stored.config, stored.ids)
    }
}

impl SemanticIds {
    /// IDs for the row-major unit vectors of `matrix` (`dim` wide), one document per row.
    pub fn build(matrix: &[f32], dim: usize, config: &SemanticIdConfig) -> Result<Self, SemanticIdError> {
        config.check()?;
        if dim == 0 || !matrix.len().is_multiple_of(dim) {
            return Err(SemanticIdError::Shape { vectors: matrix.len(), dim });
        }
        let rows = matrix.len() / dim;
        let mut ids = vec![Vec::new(); rows];
        let mut rng = SplitMix(config.seed);
        // Clusters still to split or number, with their prefix; the stack keeps the order (and
        // so the random picks) fixed.
        let mut pending = vec![((0..rows as u32).collect::<Vec<u32>>(), Vec::<u16>::new())];
        while let Some((members, prefix)) = pending.pop() {
            if members.len() <= config.leaf_size {
                for (place, &doc) in members.iter().enumerate() {
                    ids[doc as usize] = prefix.iter().copied().chain([place as u16]).collect();
                }
                continue;
            }
            let children = split(matrix, dim, &members, config, &mut rng);
            for (digit, child) in children.into_iter().enumerate().rev() {
                pending.push((child, prefix.iter().copied().chain([digit as u16]).collect()));
            }
        }
        Ok(Self { config: *config, ids })
    }

    /// IDs read back (from the table stored with a model), checked: one per document, unique,
    /// none a prefix of another, every digit below [`SemanticIds::digits`].
    pub fn from_ids(config: SemanticIdConfig, ids: Vec<Vec<u16>>) -> Result<Self, SemanticIdError> {
        config.check()?;
        let table = Self { config, ids };
        let mut sorted: Vec<&Vec<u16>> = table.ids.iter().collect();
        sorted.sort();
        for (doc, id) in table.ids.iter().enumerate() {
            if id.is_empty() || id.iter().any(|&d| d as usize >= table.digits()) {
                return Err(SemanticIdError::Config(format!(
                    "document {doc} has ID {id:?}, not 1 or more digits below {}",
                    table.digits()
                )));
            }
        }
        if let Some(pair) = sorted.windows(2).find(|pair| pair[1].starts_with(pair[0])) {
            return Err(SemanticIdError::Config(format!("ID {:?} is a prefix of (or equals) ID {:?}", pair[0], pair[1])));
        }
        Ok(table)
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Document `doc`'s digits.
    pub fn id(&self, doc: usize) -> &[u16] {
        &self.ids[doc]
    }

    pub fn ids(&self) -> &[Vec<u16>] {
        &self.ids
    }

    /// How many values a digit takes: a decoder's output size at every step.
    pub fn digits(&self) -> usize {
        self.config.branching.max(self.config.leaf_size)
    }

    /// The longest ID's length: a decoder's most steps.
    pub fn depth(&self) -> usize {
        self.ids.iter().map(Vec::len).max().unwrap_or(0)
    }
}

impl SemanticIdConfig {
    /// Refuses a config no table can be built with (what [`SemanticIds::build`] checks first).
    pub fn check(&self) -> Result<(), SemanticIdError> {
        let fits = |n: usize| (1..=u16::MAX as usize + 1).contains(&n);
        if self.branching < 2 || !fits(self.branching) || !fits(self.leaf_size) {
            return Err(SemanticIdError::Config(format!(
                "branching {} must be 2 to 65536 and leaf_size {} 1 to 65536",
                self.branching, self.leaf_size
            )));
        }
        if self.balance.is_nan() || self.balance < 1.0 {
            return Err(SemanticIdError::Config(format!("balance {} must be at least 1 (an even split)", self.balance)));
        }
        Ok(())
    }
}

/// Splits `members` (more than a leaf holds) into at most `branching` non-empty clusters of at
/// most `balance * n / branching` documents (and fewer than `n`), each ascending: k-means on a
/// sample, then every document, best match first, to its nearest centroid with room left.
fn split(matrix: &[f32], dim: usize, members: &[u32], config: &SemanticIdConfig, rng: &mut SplitMix) -> Vec<Vec<u32>> {
    let n = members.len();
    let row = |doc: u32| &matrix[doc as usize * dim..(doc as usize + 1) * dim];
    let picked = rng.choose(n, (config.branching * config.sample_per_cluster.max(1)).min(n));
    let sample: Vec<u32> = picked.iter().map(|&i| members[i as usize]).collect();
    let centroids = kmeans::train(matrix, dim, &sample, config.branching, config.iterations, rng);
    let k = centroids.len() / dim;
    let even = n.div_ceil(config.branching);
    let room = ((config.balance as f64 * n as f64 / config.branching as f64).ceil() as usize).clamp(even, n - 1);
    let mut pairs: Vec<(f32, u32, u32)> = Vec::with_capacity(n * k);
    for (m, &doc) in members.iter().enumerate() {
        for (c, centroid) in centroids.chunks_exact(dim).enumerate() {
            pairs.push((dot(row(doc), centroid), m as u32, c as u32));
        }
    }
    pairs.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut cluster_of = vec![u32::MAX; n];
    let mut sizes = vec![0usize; k];
    for (_, m, c) in pairs {
        if cluster_of[m as usize] == u32::MAX && sizes[c as usize] < room {
            cluster_of[m as usize] = c;
            sizes[c as usize] += 1;
        }
    }
    let mut clusters = vec![Vec::new(); k];
    for (m, &c) in cluster_of.iter().enumerate() {
        clusters[c as usize].push(members[m]);
    }
    clusters.retain(|c| !c.is_empty());
    clusters
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kmeans::clustered;

    fn small() -> SemanticIdConfig {
        SemanticIdConfig { branching: 4, leaf_size: 5, ..SemanticIdConfig::default() }
    }

    #[test]
    fn every_document_gets_a_unique_id_that_prefixes_no_other() {
        let matrix = clustered(8, 8, 25, 3);
        let ids = SemanticIds::build(&matrix, 8, &small()).unwrap();
        assert_eq!(ids.len(), 200);
        let checked = SemanticIds::from_ids(ids.config, ids.ids().to_vec()).unwrap();
        assert_eq!(checked, ids);
        let stored = serde_json::to_string(&ids).unwrap();
        assert_eq!(serde_json::from_str::<SemanticIds>(&stored).unwrap(), ids, "a stored table reads back");
        assert!(ids.ids().iter().flatten().all(|&d| (d as usize) < ids.digits()));
    }

    #[test]
    fn the_same_seed_gives_the_same_ids_and_another_seed_may_not() {
        let matrix = clustered(8, 8, 25, 3);
        let a = SemanticIds::build(&matrix, 8, &small()).unwrap();
        assert_eq!(a, SemanticIds::build(&matrix, 8, &small()).unwrap());
        let other = SemanticIds::build(&matrix, 8, &SemanticIdConfig { seed: 9, ..small() }).unwrap();
        assert_eq!(other.len(), a.len());
    }

    #[test]
    fn near_documents_share_prefixes() {
        let (groups, per) = (4, 5);
        let matrix = clustered(8, groups, per, 5);
        let ids = SemanticIds::build(&matrix, 8, &SemanticIdConfig { branching: groups, leaf_size: per, ..small() }).unwrap();
        for group in 0..groups {
            let first: Vec<u16> = (0..per).map(|i| ids.id(group * per + i)[0]).collect();
            assert!(first.iter().all(|&d| d == first[0]), "group {group} is split at the root: {first:?}");
        }
        assert_eq!(ids.depth(), 2);
    }

    #[test]
    fn splits_stay_balanced_even_when_most_documents_are_alike() {
        // 900 copies of one vector and 100 spread ones: plain k-means keeps the copies together.
        let mut matrix: Vec<f32> = std::iter::repeat_n([1.0, 0.0, 0.0, 0.0], 900).flatten().collect();
        matrix.extend(clustered(4, 4, 25, 11));
        let config = SemanticIdConfig { branching: 10, leaf_size: 10, ..SemanticIdConfig::default() };
        let ids = SemanticIds::build(&matrix, 4, &config).unwrap();
        let mut root = [0usize; 10];
        ids.ids().iter().for_each(|id| root[id[0] as usize] += 1);
        let room = (config.balance * 1000.0 / 10.0).ceil() as usize;
        assert!(root.iter().all(|&n| n <= room), "root clusters {root:?} exceed {room}");
        // Each level divides by at least 10 / balance = 5: 1000 documents need at most 4 levels and the leaf.
        assert!(ids.depth() <= 5, "depth {}", ids.depth());
        SemanticIds::from_ids(ids.config, ids.ids().to_vec()).unwrap();
    }

    #[test]
    fn few_documents_are_one_leaf_and_none_are_none() {
        let ids = SemanticIds::build(&clustered(4, 2, 2, 1), 4, &small()).unwrap();
        assert_eq!(ids.ids(), &[vec![0], vec![1], vec![2], vec![3]]);
        assert!(SemanticIds::build(&[], 4, &small()).unwrap().is_empty());
    }

    #[test]
    fn bad_tables_and_configs_are_refused() {
        let config = small();
        assert!(SemanticIds::from_ids(config, vec![vec![1, 2], vec![1]]).is_err(), "a prefix");
        assert!(SemanticIds::from_ids(config, vec![vec![1], vec![1]]).is_err(), "a duplicate");
        assert!(SemanticIds::from_ids(config, vec![vec![9]]).is_err(), "a digit out of range");
        assert!(SemanticIds::from_ids(config, vec![vec![]]).is_err(), "an empty ID");
        let stored = serde_json::json!({"config": config, "ids": [[1, 2], [1]]});
        assert!(serde_json::from_value::<SemanticIds>(stored).is_err(), "a stored table is checked as it is read");
        assert!(SemanticIds::build(&[1.0; 8], 4, &SemanticIdConfig { branching: 1, ..config }).is_err());
        assert!(SemanticIds::build(&[1.0; 8], 4, &SemanticIdConfig { balance: 0.5, ..config }).is_err());
        assert_eq!(SemanticIds::build(&[1.0; 7], 4, &config), Err(SemanticIdError::Shape { vectors: 7, dim: 4 }));
    }
}
