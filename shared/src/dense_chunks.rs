//! Dense search for a bundle fetched in fragments, in three steps that each fetch less:
//! - the root's [`DenseDirectory`]: one int8 centroid per k-means partition of the passages'
//!   vectors. A query scores them and opens the `nprobe` nearest partitions.
//! - those partitions' [`PartitionCodes`]: one sign bit per dimension of each of their passages,
//!   which the query scans (asymmetric: the float query against the signs) for its `depth` best
//!   candidates.
//! - the candidates' vector chunks (k-means sub-clusters of a partition, about 8 passages each):
//!   their full vectors rescore the candidates, so the final scores are the whole bundle's.
//!
//! `nprobe` and `depth` are calibrated when the bundle is cut ([`DenseDirectory::calibrate`]):
//! the fewest partitions, then the fewest candidates, at which queries like the ones to come
//! find their exact top 10.
//!
//! Layouts. The directory (a section of the root): LEB128-length-prefixed calibration (a
//! `vectors.bin` section with no rows) and centroids (a `vectors.bin` section, int8, a row per
//! partition); LEB128 passage count; each partition's LEB128 chunk count (partition p's chunks
//! follow partition p - 1's). A partition: magic `DSP1`; LEB128 passage count; for each passage,
//! ascending, its id as a LEB128 step from the previous one (the first from 0) and its chunk's
//! index within the partition; then the sign bits (passages × dim / 8, rounded up). A chunk: magic
//! `DVC1`, then the codes of its passages in ascending passage order, as `vectors.bin` lays out
//! rows.

use serde::{Deserialize, Serialize};

use crate::error::FormatError;
use crate::metrics::mean_and_standard_error;
use crate::partitions::{PartitionConfig, Partitions};
use crate::topk::{top_k, Scored};
use crate::varint;
use crate::vectors::{sign_bits, Quantization, VectorStore};

const SECTION: &str = "dense directory";
const PARTITION_SECTION: &str = "sign codes";
const PARTITION_MAGIC: &[u8; 4] = b"DSP1";
const CHUNK_SECTION: &str = "vector chunk";
const CHUNK_MAGIC: &[u8; 4] = b"DVC1";
/// More dimensions than any embedding model makes: a larger count is corrupt.
const MAX_DIM: usize = 1 << 16;

/// How the dense half is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DenseChunkConfig {
    /// Passages per vector chunk, on average: a partition's k-means sub-clusters, those of more
    /// than twice this cut into chunks of about this many.
    pub passages_per_chunk: usize,
    /// Passages per partition, on average; `None`: twice the square root of the passage count,
    /// at least 64, which keeps the centroids in the root and the partitions a query opens about
    /// the same size as the corpus grows.
    pub passages_per_partition: Option<usize>,
}

impl Default for DenseChunkConfig {
    fn default() -> Self {
        Self { passages_per_chunk: 8, passages_per_partition: None }
    }
}

impl DenseChunkConfig {
    /// Passages per partition for a corpus of `passages`.
    pub fn partition_size(&self, passages: usize) -> usize {
        self.passages_per_partition.unwrap_or_else(|| ((2.0 * (passages as f64).sqrt()).ceil() as usize).max(64)).max(1)
    }
}

/// What every dense query reads first: the partitions' centroids and how they cut into chunks.
#[derive(Debug, Clone, PartialEq)]
pub struct DenseDirectory {
    /// The vectors' kind and calibration, with no rows: prepares a query for every chunk.
    calibration: VectorStore,
    /// Int8, a row per partition.
    centroids: VectorStore,
    passages: usize,
    /// Partition p's chunks are `first_chunk[p]..first_chunk[p + 1]`.
    first_chunk: Vec<u32>,
}

/// One partition's passages, the chunk and row of each, and their sign bits.
#[derive(Debug, Clone, PartialEq)]
pub struct PartitionCodes {
    /// Ascending.
    passages: Vec<u32>,
    /// Each passage's chunk (bundle-wide) and row within it.
    places: Vec<(u32, u32)>,
    signs: Vec<u8>,
}

/// A passage a query's sign scan picked, and where its full vector is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    pub passage: u32,
    pub chunk: u32,
    row: u32,
}

/// A cut of the passages' vectors: the directory and its fragments.
#[derive(Debug, Clone)]
pub struct DenseSplit {
    pub directory: DenseDirectory,
    pub partitions: Vec<PartitionCodes>,
    /// In directory order: partition 0's chunks, then partition 1's...
    pub chunks: Vec<VectorStore>,
}

/// A fragment that a dense search needs and was not handed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MissingDense {
    #[error("partition {0} is needed and not loaded")]
    Partition(u32),
    #[error("vector chunk {0} is needed and not loaded")]
    Chunk(u32),
}

/// Passages held out as queries for [`DenseDirectory::calibrate`], at most.
const CALIBRATION_QUERIES: usize = 200;
/// Fewer calibration queries than this measure nothing.
const MIN_QUERIES: usize = 10;
/// The depth calibration starts from, doubling.
const CALIBRATION_START: usize = 25;

/// What [`DenseDirectory::calibrate`] chose and measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RescoreCalibration {
    /// Partitions a query opens.
    pub nprobe: usize,
    /// Candidates to rescore.
    pub depth: usize,
    /// Queries searched for; 0 when there were too few to measure anything.
    pub queries: usize,
    /// Their mean recall@10 at `nprobe` and `depth` against an exact search of the vectors.
    pub recall: f64,
    pub of: CalibrationQueries,
}

/// What [`DenseDirectory::calibrate`] searched for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CalibrationQueries {
    /// The caller's query vectors.
    Given,
    /// Passages held out as queries.
    Passages,
}

/// A query's sums over each byte's eight dimensions for each of the 256 sign patterns: a
/// passage's codes then score in one lookup per byte.
struct SignTable(Vec<f32>);

impl SignTable {
    fn new(query: &[f32]) -> Self {
        let mut table = vec![0f32; query.len().div_ceil(8) * 256];
        for (byte, sums) in table.chunks_exact_mut(256).enumerate() {
            let dims = &query[8 * byte..(8 * byte + 8).min(query.len())];
            for (pattern, sum) in sums.iter_mut().enumerate() {
                *sum = dims.iter().enumerate().map(|(bit, q)| if pattern >> bit & 1 == 1 { *q } else { -q }).sum();
            }
        }
        Self(table)
    }

    fn score(&self, code: &[u8]) -> f32 {
        code.iter().enumerate().map(|(byte, &bits)| self.0[byte * 256 + bits as usize]).sum()
    }
}

impl PartitionCodes {
    /// Each passage and its score: the float query (as a [`SignTable`]) against its signs.
    fn scores<'a>(&'a self, table: &'a SignTable) -> impl Iterator<Item = (u32, f32)> + 'a {
        let width = self.signs.len() / self.passages.len().max(1);
        self.passages.iter().zip(self.signs.chunks_exact(width.max(1))).map(|(&passage, code)| (passage, table.score(code)))
    }

    pub fn num_passages(&self) -> usize {
        self.passages.len()
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = PARTITION_MAGIC.to_vec();
        varint::write(&mut out, self.passages.len() as u64);
        let first_chunk = self.places.iter().map(|&(chunk, _)| chunk).min().unwrap_or(0);
        let mut previous = 0;
        for (&passage, &(chunk, _)) in self.passages.iter().zip(&self.places) {
            varint::write(&mut out, u64::from(passage - previous));
            varint::write(&mut out, u64::from(chunk - first_chunk));
            previous = passage;
        }
        out.extend_from_slice(&self.signs);
        out
    }
}

impl DenseDirectory {
    /// Partitions the rows of `vectors` by k-means, cuts each partition into chunks of
    /// sub-clusters and takes every passage's sign bits.
    pub fn split(vectors: &VectorStore, config: &DenseChunkConfig) -> DenseSplit {
        let dim = vectors.dim();
        let matrix: Vec<f32> = (0..vectors.rows() as u32).flat_map(|row| vectors.dequantize(row)).collect();
        let row = |passage: u32| &matrix[passage as usize * dim..(passage as usize + 1) * dim];
        let coarse = Partitions::build(
            &matrix,
            dim,
            &PartitionConfig { passages_per_partition: config.partition_size(vectors.rows()), ..PartitionConfig::default() },
        );
        let per_chunk = config.passages_per_chunk.max(1);
        let (mut partitions, mut chunks, mut first_chunk) = (Vec::new(), Vec::new(), vec![0u32]);
        for partition in (0..coarse.len() as u32).map(|p| coarse.members(p)).filter(|members| !members.is_empty()) {
            let sub_matrix: Vec<f32> = partition.iter().flat_map(|&p| row(p).iter().copied()).collect();
            let sub =
                Partitions::build(&sub_matrix, dim, &PartitionConfig { passages_per_partition: per_chunk, ..PartitionConfig::default() });
            let mut places = vec![(0u32, 0u32); partition.len()];
            for members in (0..sub.len() as u32).map(|s| sub.members(s)).filter(|members| !members.is_empty()) {
                let pieces = members.len().div_ceil(2 * per_chunk).max(1);
                for piece in members.chunks(members.len().div_ceil(pieces)) {
                    let rows: Vec<u32> = piece.iter().map(|&local| partition[local as usize]).collect();
                    for (row, &local) in piece.iter().enumerate() {
                        places[local as usize] = (chunks.len() as u32, row as u32);
                    }
                    chunks.push(vectors.rows_of(&rows));
                }
            }
            first_chunk.push(chunks.len() as u32);
            let signs = partition.iter().flat_map(|&p| sign_bits(row(p))).collect();
            partitions.push(PartitionCodes { passages: partition.to_vec(), places, signs });
        }
        let centroid_rows: Vec<f32> = (0..coarse.len())
            .filter(|&p| !coarse.members(p as u32).is_empty())
            .flat_map(|p| coarse.centroids()[p * dim..(p + 1) * dim].to_vec())
            .collect();
        let directory = Self {
            calibration: vectors.rows_of(&[]),
            centroids: VectorStore::quantize(&centroid_rows, dim, Quantization::Int8),
            passages: vectors.rows(),
            first_chunk,
        };
        DenseSplit { directory, partitions, chunks }
    }

    pub fn num_passages(&self) -> usize {
        self.passages
    }

    pub fn num_partitions(&self) -> usize {
        self.first_chunk.len() - 1
    }

    pub fn num_chunks(&self) -> usize {
        *self.first_chunk.last().expect("never empty") as usize
    }

    pub fn dim(&self) -> usize {
        self.calibration.dim()
    }

    /// The partition whose vectors chunk `chunk` holds.
    pub fn partition_of_chunk(&self, chunk: u32) -> u32 {
        (self.first_chunk.partition_point(|&first| first <= chunk) - 1) as u32
    }

    /// The `nprobe` partitions whose centroids score best against `query`, best first.
    pub fn nearest(&self, query: &[f32], nprobe: usize) -> Vec<u32> {
        let prepared = self.centroids.prepare(query);
        let scores = (0..self.num_partitions() as u32).map(|p| (p, self.centroids.rescore(&prepared, p)));
        top_k(scores, nprobe).into_iter().map(|(p, _)| p).collect()
    }

    /// The `depth` passages of the `nprobe` nearest partitions whose signs score best against
    /// `query`, best first; `partition` hands over the partitions loaded.
    pub fn candidates<'a>(
        &self,
        query: &[f32],
        nprobe: usize,
        depth: usize,
        partition: impl Fn(u32) -> Option<&'a PartitionCodes>,
    ) -> Result<Vec<Candidate>, MissingDense> {
        let opened: Vec<&PartitionCodes> =
            self.nearest(query, nprobe).into_iter().map(|p| partition(p).ok_or(MissingDense::Partition(p))).collect::<Result<_, _>>()?;
        let table = SignTable::new(query);
        let places: std::collections::HashMap<u32, (u32, u32)> =
            opened.iter().flat_map(|codes| codes.passages.iter().copied().zip(codes.places.iter().copied())).collect();
        let best = top_k(opened.iter().flat_map(|codes| codes.scores(&table)), depth);
        Ok(best
            .into_iter()
            .map(|(passage, _)| (passage, places[&passage]))
            .map(|(passage, (chunk, row))| Candidate { passage, chunk, row })
            .collect())
    }

    /// The chunks that hold `candidates`, ascending, each once.
    pub fn chunks_for(candidates: &[Candidate]) -> Vec<u32> {
        let mut chunks: Vec<u32> = candidates.iter().map(|c| c.chunk).collect();
        chunks.sort_unstable();
        chunks.dedup();
        chunks
    }

    /// `candidates` scored with their full vectors from the chunks `chunk` hands over, the `n`
    /// best first.
    pub fn rescore<'a>(
        &self,
        query: &[f32],
        candidates: &[Candidate],
        n: usize,
        chunk: impl Fn(u32) -> Option<&'a VectorStore>,
    ) -> Result<Vec<(u32, f32)>, MissingDense> {
        let prepared = self.calibration.prepare(query);
        let mut scored = Vec::with_capacity(candidates.len());
        for candidate in candidates {
            let store = chunk(candidate.chunk).ok_or(MissingDense::Chunk(candidate.chunk))?;
            scored.push((candidate.passage, store.rescore(&prepared, candidate.row)));
        }
        Ok(top_k(scored, n))
    }

    /// The fewest partitions to open, then the fewest candidates to rescore (doubling from 1 and
    /// from 25), at which calibration queries find their exact top 10 (an exact search of
    /// `vectors`) with recall@10, less two standard errors, at least `target_recall`: after
    /// rescoring those are the results. `fixed` holds a caller's `nprobe` and depth, kept as
    /// given. The queries are `queries` (row-major, the query encoder's vectors of texts like
    /// the queries to come) when it holds at least 10; else passages held out as queries (evenly
    /// spaced, a tenth of the corpus up to 200, each leaving itself out), which sit nearer their
    /// neighbours than real queries do and so ask for less. Every partition and passage when no
    /// smaller setting reaches the target, or when there are fewer than 10 queries.
    pub fn calibrate(
        &self,
        partitions: &[PartitionCodes],
        vectors: &VectorStore,
        queries: &[f32],
        target_recall: f64,
        fixed: (Option<usize>, Option<usize>),
    ) -> RescoreCalibration {
        let (rows, count) = (self.num_passages(), self.num_partitions());
        let dim = self.dim().max(1);
        let (queries, left_out, of): (Vec<Vec<f32>>, Vec<Option<u32>>, CalibrationQueries) = if queries.len() / dim >= MIN_QUERIES {
            let given: Vec<Vec<f32>> = queries.chunks_exact(dim).map(<[f32]>::to_vec).collect();
            let none = vec![None; given.len()];
            (given, none, CalibrationQueries::Given)
        } else {
            let count = (rows / 10).min(CALIBRATION_QUERIES);
            let held_out: Vec<u32> = (0..count).map(|i| ((2 * i + 1) * rows / (2 * count.max(1))) as u32).collect();
            (
                held_out.iter().map(|&row| vectors.dequantize(row)).collect(),
                held_out.into_iter().map(Some).collect(),
                CalibrationQueries::Passages,
            )
        };
        let everything = RescoreCalibration {
            nprobe: fixed.0.unwrap_or(count),
            depth: fixed.1.unwrap_or(rows),
            queries: queries.len(),
            recall: 1.0,
            of,
        };
        if queries.len() < MIN_QUERIES {
            return RescoreCalibration { queries: 0, ..everything };
        }
        let mut partition_of = vec![0u32; rows];
        for (p, codes) in partitions.iter().enumerate() {
            codes.passages.iter().for_each(|&passage| partition_of[passage as usize] = p as u32);
        }
        // Per query: each passage's sign score, each partition's rank by centroid, and the exact
        // top 10 (the held-out passage left out).
        let measured: Vec<Measured> = queries
            .iter()
            .zip(&left_out)
            .map(|(query, &left_out)| {
                let prepared = vectors.prepare(query);
                let others = (0..rows as u32).filter(|&other| Some(other) != left_out);
                let truth = top_k(others.map(|other| (other, vectors.rescore(&prepared, other))), 10).into_iter().map(|(p, _)| p).collect();
                let table = SignTable::new(query);
                let mut signs = vec![0f32; rows];
                partitions.iter().flat_map(|codes| codes.scores(&table)).for_each(|(passage, score)| signs[passage as usize] = score);
                let mut partition_rank = vec![0usize; count];
                self.nearest(query, count).into_iter().enumerate().for_each(|(rank, p)| partition_rank[p as usize] = rank);
                Measured { truth, signs, partition_rank, left_out }
            })
            .collect();
        let recall_at = |nprobe: usize, depth: usize| {
            let recalls: Vec<f64> = measured.iter().map(|m| m.recall(&partition_of, nprobe, depth)).collect();
            let (recall, standard_error) = mean_and_standard_error(&recalls);
            (recall, recall - 2.0 * standard_error >= target_recall)
        };
        let nprobe = fixed.0.unwrap_or_else(|| {
            let mut nprobe = 1;
            while nprobe < count && !recall_at(nprobe, rows).1 {
                nprobe *= 2;
            }
            nprobe.min(count)
        });
        let depth = fixed.1.unwrap_or_else(|| {
            let mut depth = CALIBRATION_START;
            while depth < rows && !recall_at(nprobe, depth).1 {
                depth *= 2;
            }
            depth.min(rows)
        });
        RescoreCalibration { nprobe, depth, recall: recall_at(nprobe, depth).0, ..everything }
    }

    /// Reads partition `index`'s bytes, checking its passages and chunks against the directory.
    pub fn read_partition(&self, index: u32, bytes: &[u8]) -> Result<PartitionCodes, FormatError> {
        let corrupt = |message: String| FormatError::Corrupt { section: PARTITION_SECTION, message };
        let (first, end) = match self.first_chunk.get(index as usize..index as usize + 2) {
            Some(&[first, end]) => (first, end),
            _ => return Err(corrupt(format!("there is no partition {index}"))),
        };
        let mut reader = varint::Reader::new(bytes, PARTITION_SECTION);
        if reader.bytes(4, "magic")? != PARTITION_MAGIC {
            return Err(FormatError::BadMagic { section: PARTITION_SECTION });
        }
        let count = reader.varint("passage count")? as usize;
        if count > self.passages || ((end - first) as usize) > count {
            return Err(corrupt(format!("{count} passages in {} chunks in a bundle of {}", end - first, self.passages)));
        }
        let (mut passages, mut local) = (Vec::with_capacity(count), Vec::with_capacity(count));
        let mut previous = 0u64;
        for i in 0..count {
            let passage = previous + reader.varint("passage step")?;
            let chunk = reader.varint("passage chunk")?;
            if (i > 0 && passage == previous) || passage >= self.passages as u64 || chunk >= u64::from(end - first) {
                return Err(corrupt(format!("passage {passage} in chunk {chunk} of {} in a bundle of {}", end - first, self.passages)));
            }
            passages.push(passage as u32);
            local.push(chunk as u32);
            previous = passage;
        }
        let mut rows = vec![0u32; (end - first) as usize];
        let places = local
            .iter()
            .map(|&chunk| {
                let row = rows[chunk as usize];
                rows[chunk as usize] += 1;
                (first + chunk, row)
            })
            .collect();
        if let Some(empty) = rows.iter().position(|&n| n == 0) {
            return Err(corrupt(format!("chunk {} holds no passage", first as usize + empty)));
        }
        let width = self.dim().div_ceil(8);
        let length = count.checked_mul(width).ok_or(FormatError::Truncated { section: PARTITION_SECTION, what: "signs" })?;
        let signs = reader.bytes(length, "signs")?.to_vec();
        if !reader.is_empty() {
            return Err(corrupt("bytes after the signs".into()));
        }
        Ok(PartitionCodes { passages, places, signs })
    }

    /// Magic and the chunk's rows.
    pub fn chunk_bytes(chunk: &VectorStore) -> Vec<u8> {
        [CHUNK_MAGIC.as_slice(), chunk.codes()].concat()
    }

    /// Reads chunk `index`'s bytes, checking that it holds as many rows as `partition` (the
    /// partition it belongs to, loaded) places in it.
    pub fn read_chunk(&self, index: u32, bytes: &[u8], partition: &PartitionCodes) -> Result<VectorStore, FormatError> {
        let corrupt = |message: String| FormatError::Corrupt { section: CHUNK_SECTION, message };
        let rows = partition.places.iter().filter(|&&(chunk, _)| chunk == index).count();
        let codes = bytes.strip_prefix(CHUNK_MAGIC).ok_or(FormatError::BadMagic { section: CHUNK_SECTION })?;
        let store = self.calibration.with_codes(codes)?;
        if store.rows() != rows {
            return Err(corrupt(format!("chunk {index} holds {} rows for {rows} passages", store.rows())));
        }
        Ok(store)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for section in [self.calibration.to_bytes(), self.centroids.to_bytes()] {
            varint::write(&mut out, section.len() as u64);
            out.extend_from_slice(&section);
        }
        varint::write(&mut out, self.passages as u64);
        self.first_chunk.windows(2).for_each(|pair| varint::write(&mut out, u64::from(pair[1] - pair[0])));
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, FormatError> {
        let corrupt = |message: String| FormatError::Corrupt { section: SECTION, message };
        let mut reader = varint::Reader::new(bytes, SECTION);
        let mut store = |what: &'static str| -> Result<VectorStore, FormatError> {
            let length = reader.varint(what)? as usize;
            VectorStore::from_bytes(reader.bytes(length, what)?)
        };
        let calibration = store("calibration")?;
        let centroids = store("centroids")?;
        if calibration.rows() != 0 || calibration.dim() > MAX_DIM || centroids.dim() != calibration.dim() {
            return Err(corrupt(format!(
                "a calibration of {} rows of {} dimensions and centroids of {}",
                calibration.rows(),
                calibration.dim(),
                centroids.dim()
            )));
        }
        let passages = reader.varint("passage count")? as usize;
        if centroids.rows() > passages.max(1) {
            return Err(corrupt(format!("{} partitions for {passages} passages", centroids.rows())));
        }
        let mut first_chunk = vec![0u32];
        for _ in 0..centroids.rows() {
            let chunks = reader.varint_u32("chunk count")?;
            let next = first_chunk.last().expect("never empty").checked_add(chunks).filter(|&n| chunks > 0 && n as usize <= passages);
            first_chunk.push(next.ok_or_else(|| corrupt(format!("a partition of {chunks} chunks in a bundle of {passages} passages")))?);
        }
        if !reader.is_empty() {
            return Err(corrupt("bytes after the last partition".into()));
        }
        Ok(Self { calibration, centroids, passages, first_chunk })
    }
}

/// One calibration query's measurements.
struct Measured {
    truth: Vec<u32>,
    signs: Vec<f32>,
    partition_rank: Vec<usize>,
    left_out: Option<u32>,
}

impl Measured {
    /// The share of the exact top 10 in the `nprobe` nearest partitions and among the `depth`
    /// best sign scores there.
    fn recall(&self, partition_of: &[u32], nprobe: usize, depth: usize) -> f64 {
        let opened = |passage: u32| self.partition_rank[partition_of[passage as usize] as usize] < nprobe;
        let found = self
            .truth
            .iter()
            .filter(|&&t| {
                let own = Scored(self.signs[t as usize], t);
                opened(t)
                    && (0..self.signs.len() as u32)
                        .filter(|&p| Some(p) != self.left_out && opened(p) && Scored(self.signs[p as usize], p) > own)
                        .take(depth)
                        .count()
                        < depth
            })
            .count();
        found as f64 / self.truth.len().max(1) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 400 unit vectors in 12 dimensions around 20 directions, int8.
    fn vectors() -> VectorStore {
        let mut state = 5u64;
        let mut next = move || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        let centers: Vec<Vec<f32>> = (0..20).map(|_| (0..12).map(|_| next()).collect()).collect();
        let matrix: Vec<f32> = (0..400)
            .flat_map(|i| {
                let mut v: Vec<f32> = centers[i % 20].iter().map(|c| c + 0.2 * next()).collect();
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                v.iter_mut().for_each(|x| *x /= norm);
                v
            })
            .collect();
        VectorStore::quantize(&matrix, 12, Quantization::Int8)
    }

    fn config() -> DenseChunkConfig {
        DenseChunkConfig { passages_per_partition: Some(40), ..DenseChunkConfig::default() }
    }

    /// The split read back through bytes, as a reader gets it.
    fn read_back(split: &DenseSplit) -> (DenseDirectory, Vec<PartitionCodes>, Vec<VectorStore>) {
        let directory = DenseDirectory::from_bytes(&split.directory.to_bytes()).unwrap();
        let partitions: Vec<PartitionCodes> =
            split.partitions.iter().enumerate().map(|(i, p)| directory.read_partition(i as u32, &p.to_bytes()).unwrap()).collect();
        let chunks = split
            .chunks
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let partition = &partitions[directory.partition_of_chunk(i as u32) as usize];
                directory.read_chunk(i as u32, &DenseDirectory::chunk_bytes(c), partition).unwrap()
            })
            .collect();
        (directory, partitions, chunks)
    }

    #[test]
    fn every_passage_is_in_one_partition_and_one_chunk_of_it() {
        let split = DenseDirectory::split(&vectors(), &config());
        let (directory, partitions, chunks) = read_back(&split);
        assert_eq!((directory.num_partitions(), directory.num_passages()), (10, 400));
        assert_eq!(partitions, split.partitions);
        let mut seen: Vec<u32> = partitions.iter().flat_map(|p| p.passages.clone()).collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..400).collect::<Vec<u32>>());
        assert_eq!(chunks.iter().map(VectorStore::rows).sum::<usize>(), 400);
        assert!(chunks.iter().all(|c| c.rows() <= 16), "chunks of at most twice 8");
        for (p, codes) in partitions.iter().enumerate() {
            assert!(codes.places.iter().all(|&(chunk, _)| directory.partition_of_chunk(chunk) == p as u32));
        }
    }

    #[test]
    fn rescoring_the_candidates_gives_the_whole_stores_scores() {
        let vectors = vectors();
        let split = DenseDirectory::split(&vectors, &config());
        let (directory, partitions, chunks) = read_back(&split);
        for row in [0u32, 13, 399] {
            let query = vectors.dequantize(row);
            let prepared = vectors.prepare(&query);
            let exact = top_k((0..400u32).map(|r| (r, vectors.rescore(&prepared, r))), 10);
            let opened = directory.nearest(&query, 3);
            let loaded = |p: u32| opened.contains(&p).then(|| &partitions[p as usize]);
            let candidates = directory.candidates(&query, 3, 100, loaded).unwrap();
            assert_eq!(directory.candidates(&query, 3, 100, |_| None).unwrap_err(), MissingDense::Partition(opened[0]));
            let needed = DenseDirectory::chunks_for(&candidates);
            assert!(needed.len() < chunks.len(), "the candidates touch {} of {} chunks", needed.len(), chunks.len());
            let found = directory.rescore(&query, &candidates, 10, |i| needed.contains(&i).then(|| &chunks[i as usize])).unwrap();
            let overlap = found.iter().filter(|f| exact.contains(f)).count();
            assert!(overlap >= 9, "row {row}: {overlap} of the exact top 10");
            assert_eq!(directory.rescore(&query, &candidates, 10, |_| None).unwrap_err(), MissingDense::Chunk(candidates[0].chunk));
            let all = directory.candidates(&query, 10, 400, |p| Some(&partitions[p as usize])).unwrap();
            let everything = directory.rescore(&query, &all, 10, |i| Some(&chunks[i as usize])).unwrap();
            assert_eq!(everything, exact, "every partition and passage is the exact search");
        }
    }

    #[test]
    fn calibration_finds_the_settings_that_reach_the_target() {
        let vectors = vectors();
        let split = DenseDirectory::split(&vectors, &config());
        let calibrate = |queries: &[f32], target, fixed| split.directory.calibrate(&split.partitions, &vectors, queries, target, fixed);
        let loose = calibrate(&[], 0.5, (None, None));
        let strict = calibrate(&[], 0.99, (None, None));
        assert_eq!((loose.queries, loose.of), (40, CalibrationQueries::Passages));
        assert!(loose.nprobe <= strict.nprobe && loose.recall >= 0.5, "{loose:?} {strict:?}");
        assert!(strict.recall >= 0.99 || (strict.nprobe, strict.depth) == (10, 400), "{strict:?}");
        let unreachable = calibrate(&[], 1.01, (None, None));
        assert_eq!((unreachable.nprobe, unreachable.depth), (10, 400), "an unreachable target opens and rescores everything");
        assert_eq!((calibrate(&[], 0.99, (Some(2), Some(30))).nprobe, calibrate(&[], 0.99, (Some(2), Some(30))).depth), (2, 30));
        // Queries between clusters, which passages held out do not resemble.
        let queries: Vec<f32> = (0..30u32)
            .flat_map(|i| {
                let (a, b) = (vectors.dequantize(i), vectors.dequantize(399 - i));
                let sum: Vec<f32> = a.iter().zip(&b).map(|(x, y)| x + y).collect();
                let norm = sum.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
                sum.into_iter().map(move |x| x / norm)
            })
            .collect();
        let given = calibrate(&queries, 0.9, (None, None));
        assert_eq!((given.queries, given.of), (30, CalibrationQueries::Given));
        assert!(given.recall >= 0.9, "{given:?}");
        assert_eq!(calibrate(&queries[..9 * 12], 0.9, (None, None)).of, CalibrationQueries::Passages, "nine queries are too few");
    }

    #[test]
    fn damaged_or_misplaced_input_is_refused() {
        let split = DenseDirectory::split(&vectors(), &config());
        let bytes = split.directory.to_bytes();
        for cut in 0..bytes.len() {
            assert!(DenseDirectory::from_bytes(&bytes[..cut]).is_err(), "a directory truncated at {cut} was accepted");
        }
        let directory = &split.directory;
        let partition = split.partitions[0].to_bytes();
        for cut in 0..partition.len() {
            assert!(directory.read_partition(0, &partition[..cut]).is_err(), "a partition truncated at {cut} was accepted");
        }
        let other =
            (1..split.partitions.len()).find(|&i| split.partitions[i].passages.len() != split.partitions[0].passages.len()).unwrap();
        assert!(directory.read_partition(other as u32, &partition).is_err());
        assert!(directory.read_partition(10, &partition).is_err());
        let chunk = DenseDirectory::chunk_bytes(&split.chunks[0]);
        assert!(directory.read_chunk(0, &chunk[..chunk.len() - 1], &split.partitions[0]).is_err());
        assert!(directory.read_chunk(0, &chunk, &split.partitions[1]).is_err(), "a chunk read against another partition");
    }

    proptest::proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            if let Ok(directory) = DenseDirectory::from_bytes(&bytes) {
                let query = vec![0.1; directory.dim()];
                let _ = directory.candidates(&query, 2, 5, |_| None);
            }
            let split = DenseDirectory::split(&vectors(), &config());
            for index in [0, 3] {
                if let Ok(codes) = split.directory.read_partition(index, &[PARTITION_MAGIC.as_slice(), &bytes].concat()) {
                    let query = vec![0.1; 12];
                    if let Ok(candidates) = split.directory.candidates(&query, 10, 20, |_| Some(&codes)) {
                        let _ = split.directory.rescore(&query, &candidates, 5, |_| None);
                    }
                    let _ = split.directory.read_chunk(0, &[CHUNK_MAGIC.as_slice(), &bytes].concat(), &codes);
                }
            }
        }
    }
}
