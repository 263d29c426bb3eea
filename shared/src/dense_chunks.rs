//! Dense search for a bundle fetched in fragments: [`SignCodes`], a few bits of every passage,
//! fetched once, which a query scans to pick its candidates; and the passages' vectors in chunks of
//! one k-means cluster each, fetched for the candidates only and rescored, so that the final scores
//! are the whole bundle's.
//!
//! A passage's code is one sign bit per dimension of its vector or, on a corpus large enough that
//! the shorter codes outweigh the projection they need, the signs of its projection onto two
//! thirds as many learned directions ([`SignRotation`]). A candidate's score is the float query
//! (projected the same way) against those signs: asymmetric, the query is not reduced to bits.
//! Clustering puts passages that answer the same queries in the same chunk, so a query's
//! candidates touch few chunks.
//!
//! The codes name the chunks (content addresses, as the root names every other fragment): a
//! keyword search never needs those names, so they travel with the first fetch that does.
//!
//! Codes layout: magic `DSC4`, the vectors' calibration (a `vectors.bin` section with no rows),
//! LEB128-length-prefixed; the rotation ([`SignRotation`]'s layout; 0 bits for none); u32
//! passages; the codes (passages × bits / 8, rounded up; bits is the vectors' dimension without a
//! rotation); LEB128 chunk count and each passage's chunk; each chunk's name (6 bytes). A chunk:
//! magic `DVC1`, then the codes of its passages in ascending passage order, as `vectors.bin` lays
//! out rows.

use serde::{Deserialize, Serialize};

use crate::error::FormatError;
use crate::filters;
use crate::fragments::{store, FragmentAddress, NamedFragment};
use crate::metrics::mean_and_standard_error;
use crate::partitions::{PartitionConfig, Partitions};
use crate::sign_rotation::SignRotation;
use crate::topk::{top_k, Scored};
use crate::varint;
use crate::vectors::{sign_bits, VectorStore};

const SECTION: &str = "sign codes";
const MAGIC: &[u8; 4] = b"DSC4";
const CHUNK_SECTION: &str = "vector chunk";
const CHUNK_MAGIC: &[u8; 4] = b"DVC1";
/// More dimensions than any embedding model makes: a larger count is corrupt.
const MAX_DIM: usize = 1 << 16;

/// How the dense half is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DenseChunkConfig {
    /// Passages per k-means cluster, on average; a cluster of more than twice that is cut into
    /// chunks of about this many.
    pub passages_per_chunk: usize,
    pub codes: CodeKind,
}

impl Default for DenseChunkConfig {
    fn default() -> Self {
        Self { passages_per_chunk: 8, codes: CodeKind::Auto }
    }
}

/// What a passage's code is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeKind {
    /// Rotated to two thirds of the dimensions (rounded down to whole bytes) when the bytes that
    /// saves outweigh the rotation's own; else one sign per dimension. Two thirds rank candidates
    /// as well as one sign per dimension (the same calibrated rescore depth); fewer bits need a
    /// deeper rescore, whose vector chunks cost more than the codes save.
    Auto,
    /// One sign per dimension of the vector.
    Signs,
    /// The signs of the vector projected onto this many learned directions (at most the vectors'
    /// dimension).
    Rotated(usize),
}

impl CodeKind {
    /// Bits of rotation for `rows` vectors of `dim` dimensions; `None` for the vectors' own signs.
    fn rotation_bits(self, rows: usize, dim: usize) -> Option<usize> {
        match self {
            Self::Signs => None,
            Self::Rotated(bits) => Some(bits.clamp(1, dim.max(1))),
            Self::Auto => {
                let bits = dim * 2 / 3 / 8 * 8;
                let saved = rows * (dim - bits) / 8;
                let cost = bits * (dim + 4);
                (bits > 0 && saved > cost).then_some(bits)
            }
        }
    }
}

/// Every passage's sign bits and chunk, and every chunk's name.
#[derive(Debug, Clone, PartialEq)]
pub struct SignCodes {
    /// The vectors' kind and calibration, with no rows: prepares a query for every chunk.
    calibration: VectorStore,
    /// Projects a query for scanning the codes; `None` when the codes are the vectors' signs.
    rotation: Option<SignRotation>,
    signs: Vec<u8>,
    chunk_of: Vec<u32>,
    /// Each chunk's passages, ascending.
    members: Vec<Vec<u32>>,
    /// Each chunk's content address.
    names: Vec<FragmentAddress>,
}

/// Passages held out as queries for [`SignCodes::calibrate`], at most.
const CALIBRATION_QUERIES: usize = 200;
/// Fewer calibration queries than this measure nothing.
const MIN_QUERIES: usize = 10;
/// The depth calibration starts from, and its smallest step.
const CALIBRATION_START: usize = 25;

/// What [`SignCodes::calibrate`] chose and measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RescoreCalibration {
    /// Candidates to rescore.
    pub depth: usize,
    /// Queries searched for; 0 when there were too few to measure anything.
    pub queries: usize,
    /// Their mean recall@10 at `depth` against an exact search of the int8 vectors.
    pub recall: f64,
    pub of: CalibrationQueries,
}

/// What [`SignCodes::calibrate`] searched for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CalibrationQueries {
    /// The caller's query vectors.
    Given,
    /// Passages held out as queries.
    Passages,
}

/// A chunk's vectors were needed and not handed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("vector chunk {0} is needed and not loaded")]
pub struct MissingVectors(pub u32);

impl SignCodes {
    /// Codes for every row of `vectors` and the rows cut into chunks by cluster, each chunk's
    /// fragment its passages' rows (ascending; [`SignCodes::read_chunk`] reads them with the
    /// codes' calibration).
    pub fn split(vectors: &VectorStore, config: &DenseChunkConfig) -> (Self, Vec<NamedFragment>) {
        let dim = vectors.dim();
        let matrix: Vec<f32> = (0..vectors.rows() as u32).flat_map(|row| vectors.dequantize(row)).collect();
        let partitions = Partitions::build(
            &matrix,
            dim,
            &PartitionConfig { passages_per_partition: config.passages_per_chunk.max(1), ..PartitionConfig::default() },
        );
        let mut members = Vec::new();
        for partition in 0..partitions.len() as u32 {
            let all = partitions.members(partition);
            let pieces = all.len().div_ceil(2 * config.passages_per_chunk.max(1)).max(1);
            let size = all.len().div_ceil(pieces).max(1);
            members.extend(all.chunks(size).map(<[u32]>::to_vec));
        }
        let mut chunk_of = vec![0u32; vectors.rows()];
        for (chunk, passages) in members.iter().enumerate() {
            passages.iter().for_each(|&p| chunk_of[p as usize] = chunk as u32);
        }
        let (rotation, signs) = match config.codes.rotation_bits(vectors.rows(), dim) {
            Some(bits) => {
                let (rotation, codes) = SignRotation::fit(&matrix, dim, bits);
                (Some(rotation), codes)
            }
            None => (None, matrix.chunks_exact(dim).flat_map(sign_bits).collect()),
        };
        let stored: Vec<(FragmentAddress, Vec<u8>)> =
            members.iter().map(|passages| store(&[CHUNK_MAGIC.as_slice(), vectors.rows_of(passages).codes()].concat())).collect();
        let names = stored.iter().map(|(address, _)| *address).collect();
        let chunks = stored.into_iter().map(|(address, bytes)| (hex::encode(address), bytes)).collect();
        (Self { calibration: vectors.rows_of(&[]), rotation, signs, chunk_of, members, names }, chunks)
    }

    pub fn num_passages(&self) -> usize {
        self.chunk_of.len()
    }

    pub fn num_chunks(&self) -> usize {
        self.members.len()
    }

    /// Vector chunk `index`'s name (below [`SignCodes::num_chunks`]).
    pub fn chunk_name(&self, index: u32) -> String {
        hex::encode(self.names[index as usize])
    }

    pub fn dim(&self) -> usize {
        self.calibration.dim()
    }

    /// Bits in a passage's code.
    pub fn code_bits(&self) -> usize {
        self.rotated_bits().unwrap_or(self.dim())
    }

    /// Bits in a passage's code when the codes are rotated; `None` for one sign a dimension.
    pub fn rotated_bits(&self) -> Option<usize> {
        self.rotation.as_ref().map(SignRotation::bits)
    }

    /// The `depth` passages whose signs score best against `query`, best first; with `allowed`,
    /// among the passages it marks only.
    pub fn candidates(&self, query: &[f32], depth: usize, allowed: Option<&[bool]>) -> Vec<u32> {
        let scores = self.sign_scores(query).into_iter().enumerate().filter(|&(passage, _)| filters::passes(allowed, passage));
        let scores = scores.map(|(passage, score)| (passage as u32, score));
        top_k(scores, depth).into_iter().map(|(passage, _)| passage).collect()
    }

    /// Every passage's score: the float query, projected as the codes were, against its code.
    fn sign_scores(&self, query: &[f32]) -> Vec<f32> {
        assert_eq!(query.len(), self.dim(), "query has {} dimensions, the codes {}", query.len(), self.dim());
        let projected = self.rotation.as_ref().map(|rotation| rotation.project(query));
        let query = projected.as_deref().unwrap_or(query);
        let width = self.code_bits().div_ceil(8);
        // For each byte of a code, the query's sum over its eight dimensions for each of the 256
        // sign patterns: a passage then scores in `width` lookups.
        let mut table = vec![0f32; width * 256];
        for (byte, sums) in table.chunks_exact_mut(256).enumerate() {
            let dims = &query[8 * byte..(8 * byte + 8).min(query.len())];
            for (pattern, sum) in sums.iter_mut().enumerate() {
                *sum = dims.iter().enumerate().map(|(bit, q)| if pattern >> bit & 1 == 1 { *q } else { -q }).sum();
            }
        }
        self.signs
            .chunks_exact(width)
            .map(|code| code.iter().enumerate().map(|(byte, &bits)| table[byte * 256 + bits as usize]).sum())
            .collect()
    }

    /// The fewest candidates to rescore, from 25 in steps of a quarter (at least 25: 50, 75, 100,
    /// 125, 156, ...; each step fetches a few more vector chunks), at which calibration queries find
    /// their exact top 10 (an exact search of `vectors`) among the candidates with recall@10, less
    /// two standard errors, at least `target_recall`: after rescoring with `vectors` those are the
    /// results. The queries are `queries` (row-major, the query encoder's vectors of texts like the
    /// queries to come) when it holds at least 10; else passages held out as queries (evenly
    /// spaced, a tenth of the corpus up to 200, each leaving itself out), which sit nearer their
    /// neighbours than real queries do and so ask for fewer candidates. Every passage when no
    /// depth under the corpus reaches the target, or when there are fewer than 10 queries.
    pub fn calibrate(&self, vectors: &VectorStore, queries: &[f32], target_recall: f64) -> RescoreCalibration {
        let rows = self.num_passages();
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
        let everything = RescoreCalibration { depth: rows, queries: queries.len(), recall: 1.0, of };
        if queries.len() < MIN_QUERIES {
            return RescoreCalibration { queries: 0, ..everything };
        }
        // Each query's exact top 10, as ranks in its candidate order (the order `candidates`
        // gives, the held-out passage left out): at depth d, the ones ranked below d are found.
        let ranks: Vec<Vec<usize>> = queries
            .iter()
            .zip(&left_out)
            .map(|(query, left_out)| {
                let prepared = vectors.prepare(query);
                let others = || (0..rows as u32).filter(|&other| Some(other) != *left_out);
                let truth = top_k(others().map(|other| (other, vectors.rescore(&prepared, other))), 10);
                let signs = self.sign_scores(query);
                truth
                    .iter()
                    .map(|&(passage, _)| {
                        let own = Scored(signs[passage as usize], passage);
                        others().filter(|&other| Scored(signs[other as usize], other) > own).count()
                    })
                    .collect()
            })
            .collect();
        let mut depth = CALIBRATION_START;
        while depth < rows {
            let recalls: Vec<f64> =
                ranks.iter().map(|ranks| ranks.iter().filter(|&&rank| rank < depth).count() as f64 / ranks.len().max(1) as f64).collect();
            let (recall, standard_error) = mean_and_standard_error(&recalls);
            if recall - 2.0 * standard_error >= target_recall {
                return RescoreCalibration { depth, recall, ..everything };
            }
            depth += (depth / 4).max(CALIBRATION_START);
        }
        everything
    }

    /// The chunks that hold `passages`, ascending, each once.
    pub fn chunks_for(&self, passages: &[u32]) -> Vec<u32> {
        let mut chunks: Vec<u32> = passages.iter().map(|&p| self.chunk_of[p as usize]).collect();
        chunks.sort_unstable();
        chunks.dedup();
        chunks
    }

    /// `candidates` scored with their full vectors from the chunks `chunk` hands over, the `n`
    /// best first.
    pub fn rescore<'a>(
        &self,
        query: &[f32],
        candidates: &[u32],
        n: usize,
        chunk: impl Fn(u32) -> Option<&'a VectorStore>,
    ) -> Result<Vec<(u32, f32)>, MissingVectors> {
        let prepared = self.calibration.prepare(query);
        let mut scored = Vec::with_capacity(candidates.len());
        for &passage in candidates {
            let (store, row) = self.row(passage, &chunk)?;
            scored.push((passage, store.rescore(&prepared, row)));
        }
        Ok(top_k(scored, n))
    }

    /// Passage `passage`'s full vector, from the chunk `chunk` hands over.
    pub fn vector<'a>(&self, passage: u32, chunk: impl Fn(u32) -> Option<&'a VectorStore>) -> Result<Vec<f32>, MissingVectors> {
        let (store, row) = self.row(passage, &chunk)?;
        Ok(store.dequantize(row))
    }

    /// The chunk `chunk` hands over for `passage`, and the passage's row in it.
    fn row<'a>(&self, passage: u32, chunk: &impl Fn(u32) -> Option<&'a VectorStore>) -> Result<(&'a VectorStore, u32), MissingVectors> {
        let index = self.chunk_of[passage as usize];
        let store = chunk(index).ok_or(MissingVectors(index))?;
        let row = self.members[index as usize].binary_search(&passage).expect("a chunk holds its passages");
        Ok((store, row as u32))
    }

    /// Reads chunk `index`'s bytes, checking that it holds as many rows as the chunk has passages.
    pub fn read_chunk(&self, index: u32, bytes: &[u8]) -> Result<VectorStore, FormatError> {
        let corrupt = |message: String| FormatError::Corrupt { section: CHUNK_SECTION, message };
        let passages = self.members.get(index as usize).ok_or_else(|| corrupt(format!("there is no chunk {index}")))?;
        let codes = bytes.strip_prefix(CHUNK_MAGIC).ok_or(FormatError::BadMagic { section: CHUNK_SECTION })?;
        let store = self.calibration.with_codes(codes)?;
        if store.rows() != passages.len() {
            return Err(corrupt(format!("chunk {index} holds {} rows for {} passages", store.rows(), passages.len())));
        }
        Ok(store)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        let calibration = self.calibration.to_bytes();
        varint::write(&mut out, calibration.len() as u64);
        out.extend_from_slice(&calibration);
        SignRotation::write(self.rotation.as_ref(), &mut out);
        out.extend_from_slice(&(self.chunk_of.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.signs);
        varint::write(&mut out, self.members.len() as u64);
        self.chunk_of.iter().for_each(|&chunk| varint::write(&mut out, u64::from(chunk)));
        out.extend(self.names.iter().flatten());
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, FormatError> {
        let mut reader = varint::Reader::new(bytes, SECTION);
        if reader.bytes(4, "magic")? != MAGIC {
            return Err(FormatError::BadMagic { section: SECTION });
        }
        let corrupt = |message: String| FormatError::Corrupt { section: SECTION, message };
        let length = reader.varint("calibration length")? as usize;
        let calibration = VectorStore::from_bytes(reader.bytes(length, "calibration")?)?;
        if calibration.rows() != 0 || calibration.dim() > MAX_DIM {
            return Err(corrupt(format!("a calibration of {} rows of {} dimensions", calibration.rows(), calibration.dim())));
        }
        let rotation = SignRotation::read(&mut reader, calibration.dim(), SECTION)?;
        let passages = reader.u32_le("passage count")? as usize;
        let width = rotation.as_ref().map_or(calibration.dim(), SignRotation::bits).div_ceil(8);
        let signs =
            reader.bytes(passages.checked_mul(width).ok_or(FormatError::Truncated { section: SECTION, what: "signs" })?, "signs")?;
        let chunks = reader.varint("chunk count")? as usize;
        if chunks > passages {
            return Err(corrupt(format!("{chunks} chunks for {passages} passages")));
        }
        let mut members = vec![Vec::new(); chunks];
        let mut chunk_of = Vec::with_capacity(passages);
        for passage in 0..passages as u32 {
            let chunk = reader.varint_u32("passage chunk")?;
            members
                .get_mut(chunk as usize)
                .ok_or_else(|| corrupt(format!("passage {passage} in chunk {chunk} of {chunks}")))?
                .push(passage);
            chunk_of.push(chunk);
        }
        let names = (0..chunks).map(|_| reader.array("chunk name")).collect::<Result<Vec<FragmentAddress>, FormatError>>()?;
        if !reader.is_empty() {
            return Err(corrupt("bytes after the last chunk's name".into()));
        }
        if let Some(empty) = members.iter().position(Vec::is_empty) {
            return Err(corrupt(format!("chunk {empty} holds no passage")));
        }
        Ok(Self { calibration, rotation, signs: signs.to_vec(), chunk_of, members, names })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fragments::open_fragment;
    use crate::vectors::Quantization;

    /// Each chunk's vectors, from its fragment.
    fn read_chunks(codes: &SignCodes, fragments: &[NamedFragment]) -> Vec<VectorStore> {
        let part = |(name, stored): &NamedFragment| open_fragment(name, stored).unwrap();
        fragments.iter().enumerate().map(|(i, fragment)| codes.read_chunk(i as u32, &part(fragment)).unwrap()).collect()
    }

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

    /// Both kinds of code: the vectors' 12 signs, and 8 bits of a rotation.
    fn configs() -> [DenseChunkConfig; 2] {
        [CodeKind::Signs, CodeKind::Rotated(8)].map(|codes| DenseChunkConfig { codes, ..DenseChunkConfig::default() })
    }

    #[test]
    fn rescoring_the_candidates_gives_the_whole_stores_scores() {
        for config in configs() {
            rescoring_gives_the_whole_stores_scores(&config);
        }
    }

    fn rescoring_gives_the_whole_stores_scores(config: &DenseChunkConfig) {
        let vectors = vectors();
        let (codes, fragments) = SignCodes::split(&vectors, config);
        let codes = SignCodes::from_bytes(&codes.to_bytes()).unwrap();
        assert_eq!(codes.code_bits(), if config.codes == CodeKind::Signs { 12 } else { 8 });
        for (i, (name, _)) in fragments.iter().enumerate() {
            assert_eq!(&codes.chunk_name(i as u32), name, "the codes name chunk {i}");
        }
        let chunks = read_chunks(&codes, &fragments);
        assert!(chunks.len() > 10 && chunks.iter().all(|c| c.rows() <= 32), "{} chunks", chunks.len());
        for row in [0u32, 13, 399] {
            let query = vectors.dequantize(row);
            let prepared = vectors.prepare(&query);
            let exact = top_k((0..400u32).map(|r| (r, vectors.rescore(&prepared, r))), 10);
            let candidates = codes.candidates(&query, 100, None);
            let needed = codes.chunks_for(&candidates);
            assert!(needed.len() < chunks.len(), "the candidates touch {} of {} chunks", needed.len(), chunks.len());
            let found = codes.rescore(&query, &candidates, 10, |i| needed.contains(&i).then(|| &chunks[i as usize])).unwrap();
            let overlap = found.iter().filter(|f| exact.contains(f)).count();
            assert!(overlap >= 9, "{config:?}, row {row}: {overlap} of the exact top 10");
            assert_eq!(
                codes.rescore(&query, &candidates, 10, |_| None).unwrap_err(),
                MissingVectors(codes.chunk_of[candidates[0] as usize])
            );
        }
    }

    #[test]
    fn calibration_finds_the_depth_that_reaches_the_target() {
        let vectors = vectors();
        let (codes, _) = SignCodes::split(&vectors, &DenseChunkConfig::default());
        let loose = codes.calibrate(&vectors, &[], 0.5);
        let strict = codes.calibrate(&vectors, &[], 0.99);
        assert_eq!((loose.queries, loose.of), (40, CalibrationQueries::Passages));
        assert!(loose.depth <= strict.depth && loose.recall >= 0.5, "{loose:?} {strict:?}");
        assert!(strict.depth == 400 || strict.recall >= 0.99, "{strict:?}");
        assert_eq!(codes.calibrate(&vectors, &[], 1.01).depth, 400, "an unreachable target rescores everything");
        // Queries between clusters, which passages held out do not resemble.
        let queries: Vec<f32> = (0..30u32)
            .flat_map(|i| {
                let (a, b) = (vectors.dequantize(i), vectors.dequantize(399 - i));
                let sum: Vec<f32> = a.iter().zip(&b).map(|(x, y)| x + y).collect();
                let norm = sum.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
                sum.into_iter().map(move |x| x / norm)
            })
            .collect();
        let given = codes.calibrate(&vectors, &queries, 0.9);
        assert_eq!((given.queries, given.of), (30, CalibrationQueries::Given));
        assert!(given.depth == 400 || given.recall >= 0.9, "{given:?}");
        let few = codes.calibrate(&vectors, &queries[..9 * 12], 0.9);
        assert_eq!(few.of, CalibrationQueries::Passages, "nine queries are too few: passages stand in");
    }

    #[test]
    fn codes_rotate_where_the_bytes_saved_outweigh_the_rotation() {
        // 384 dimensions: 256 bits save 16 bytes a passage; the rotation costs 256 × 388 bytes.
        assert_eq!(CodeKind::Auto.rotation_bits(9_893, 384), Some(256));
        assert_eq!(CodeKind::Auto.rotation_bits(6_208, 384), None);
        assert_eq!(CodeKind::Auto.rotation_bits(6_209, 384), Some(256));
        assert_eq!(CodeKind::Auto.rotation_bits(1_858, 384), None);
        assert_eq!(CodeKind::Auto.rotation_bits(1_000_000, 9), None, "two thirds of 9 dimensions are less than a byte");
        assert_eq!(CodeKind::Signs.rotation_bits(1_000_000, 384), None);
        assert_eq!(CodeKind::Rotated(500).rotation_bits(10, 384), Some(384));
    }

    #[test]
    fn damaged_or_misplaced_input_is_refused() {
        for config in configs() {
            damaged_or_misplaced_codes_are_refused(&config);
        }
    }

    fn damaged_or_misplaced_codes_are_refused(config: &DenseChunkConfig) {
        let (codes, fragments) = SignCodes::split(&vectors(), config);
        let bytes = codes.to_bytes();
        for cut in 0..bytes.len() {
            assert!(SignCodes::from_bytes(&bytes[..cut]).is_err(), "codes truncated at {cut} were accepted");
        }
        let chunks = read_chunks(&codes, &fragments);
        let chunk = open_fragment(&fragments[0].0, &fragments[0].1).unwrap();
        assert!(codes.read_chunk(0, &chunk[..chunk.len() - 1]).is_err());
        let other = (1..chunks.len()).find(|&i| chunks[i].rows() != chunks[0].rows()).unwrap();
        assert!(codes.read_chunk(other as u32, &chunk).is_err());
    }

    /// The codes of [`configs`], made once for every case of a property test.
    fn split_once() -> &'static [SignCodes] {
        static CODES: std::sync::OnceLock<Vec<SignCodes>> = std::sync::OnceLock::new();
        CODES.get_or_init(|| configs().iter().map(|config| SignCodes::split(&vectors(), config).0).collect())
    }

    proptest::proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            if let Ok(codes) = SignCodes::from_bytes(&[MAGIC.as_slice(), &bytes].concat()) {
                let query = vec![0.1; codes.dim()];
                let candidates = codes.candidates(&query, 5, None);
                let _ = codes.rescore(&query, &candidates, 5, |_| None);
            }
            for codes in split_once() {
                let _ = codes.read_chunk(0, &[CHUNK_MAGIC.as_slice(), &bytes].concat());
            }
        }
    }
}
