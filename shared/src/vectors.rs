//! Passage vectors as the bundle stores them: f32, f16, int8 with per-dimension ranges
//! calibrated on the corpus, or binary sign bits; and the query-side scoring for each.
//!
//! Queries stay in f32 ("asymmetric" scoring): an int8 row scores `sum(q[d] * (lo[d] + step[d] * code[d]))`,
//! which is `q . lo` plus a dot product with the per-query weights `q[d] * step[d]`. Binary rows are
//! searched by Hamming distance to the query's sign bits and then rescored with the f32 query.
//!
//! Section layout (little-endian): magic `DVEC`, u32 version, u32 quantization, u32 dim, u32 rows,
//! then for int8 `dim` f32 lows and `dim` f32 steps, then the rows' codes.

use serde::{Deserialize, Serialize};

use crate::dense::dot;
use crate::error::FormatError;

const MAGIC: &[u8; 4] = b"DVEC";
const VERSION: u32 = 1;
const SECTION: &str = "vectors";

/// How each vector component is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Quantization {
    F32,
    F16,
    #[default]
    Int8,
    Binary,
}

impl Quantization {
    pub const ALL: [Quantization; 4] = [Self::F32, Self::F16, Self::Int8, Self::Binary];

    fn code(self) -> u32 {
        match self {
            Self::F32 => 0,
            Self::F16 => 1,
            Self::Int8 => 2,
            Self::Binary => 3,
        }
    }

    /// Bytes one vector of `dim` components takes (calibration tables aside).
    pub fn bytes_per_vector(self, dim: usize) -> usize {
        match self {
            Self::F32 => 4 * dim,
            Self::F16 => 2 * dim,
            Self::Int8 => dim,
            Self::Binary => dim.div_ceil(8),
        }
    }

    /// Whether the graph search score is coarser than the final score, so candidates are rescored.
    pub fn rescores(self) -> bool {
        self == Self::Binary
    }
}

impl std::str::FromStr for Quantization {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "f32" => Ok(Self::F32),
            "f16" => Ok(Self::F16),
            "int8" => Ok(Self::Int8),
            "binary" => Ok(Self::Binary),
            _ => Err(format!("unknown quantization {s:?} (f32, f16, int8, binary)")),
        }
    }
}

impl std::fmt::Display for Quantization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            Self::F32 => "f32",
            Self::F16 => "f16",
            Self::Int8 => "int8",
            Self::Binary => "binary",
        };
        f.write_str(name)
    }
}

/// A matrix of quantized rows.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorStore {
    quantization: Quantization,
    dim: usize,
    rows: usize,
    /// Int8 only: each dimension's lowest value and step per code.
    lows: Vec<f32>,
    steps: Vec<f32>,
    codes: Vec<u8>,
}

/// A query prepared for one store: what its scoring loops read.
pub struct PreparedQuery {
    query: Vec<f32>,
    /// Int8: `q[d] * step[d]`; other kinds: empty.
    weights: Vec<f32>,
    /// Int8: `q . lows`.
    offset: f32,
    /// Binary: the query's sign bits, packed like the rows.
    bits: Vec<u8>,
}

impl VectorStore {
    /// Quantizes a row-major `[rows, dim]` matrix; int8 ranges are each dimension's min and max.
    pub fn quantize(matrix: &[f32], dim: usize, quantization: Quantization) -> Self {
        assert!(dim > 0 && matrix.len().is_multiple_of(dim), "matrix is not a whole number of {dim}-wide rows");
        let rows = matrix.len() / dim;
        let (mut lows, mut steps) = (Vec::new(), Vec::new());
        let mut codes = Vec::with_capacity(rows * quantization.bytes_per_vector(dim));
        match quantization {
            Quantization::F32 => matrix.iter().for_each(|v| codes.extend_from_slice(&v.to_le_bytes())),
            Quantization::F16 => matrix.iter().for_each(|v| codes.extend_from_slice(&half::f16::from_f32(*v).to_le_bytes())),
            Quantization::Int8 => {
                lows = vec![f32::INFINITY; dim];
                let mut highs = vec![f32::NEG_INFINITY; dim];
                for row in matrix.chunks_exact(dim) {
                    for (d, &v) in row.iter().enumerate() {
                        lows[d] = lows[d].min(v);
                        highs[d] = highs[d].max(v);
                    }
                }
                steps = lows.iter().zip(&highs).map(|(lo, hi)| (hi - lo) / 255.0).collect();
                for row in matrix.chunks_exact(dim) {
                    for (d, &v) in row.iter().enumerate() {
                        let code = if steps[d] > 0.0 { ((v - lows[d]) / steps[d]).round() } else { 0.0 };
                        codes.push(code.clamp(0.0, 255.0) as u8);
                    }
                }
            }
            Quantization::Binary => matrix.chunks_exact(dim).for_each(|row| codes.extend(sign_bits(row))),
        }
        Self { quantization, dim, rows, lows, steps, codes }
    }

    pub fn quantization(&self) -> Quantization {
        self.quantization
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Precomputes what scoring `query` against every row needs.
    pub fn prepare(&self, query: &[f32]) -> PreparedQuery {
        assert_eq!(query.len(), self.dim, "query has {} dimensions, the store {}", query.len(), self.dim);
        let weights = query.iter().zip(&self.steps).map(|(q, s)| q * s).collect();
        let offset = if self.lows.is_empty() { 0.0 } else { dot(query, &self.lows) };
        let bits = if self.quantization == Quantization::Binary { sign_bits(query) } else { Vec::new() };
        PreparedQuery { query: query.to_vec(), weights, offset, bits }
    }

    /// The search score of `row`: the approximate inner product, or for binary rows
    /// `dim - 2 * hamming`, the inner product of the two sign vectors.
    pub fn score(&self, query: &PreparedQuery, row: u32) -> f32 {
        let width = self.quantization.bytes_per_vector(self.dim);
        let codes = &self.codes[row as usize * width..(row as usize + 1) * width];
        match self.quantization {
            Quantization::F32 => dot_codes::<4>(&query.query, codes, |b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            Quantization::F16 => dot_codes::<2>(&query.query, codes, |b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()),
            Quantization::Int8 => query.offset + dot_codes::<1>(&query.weights, codes, |b| f32::from(b[0])),
            Quantization::Binary => {
                let hamming: u32 = codes.iter().zip(&query.bits).map(|(a, b)| (a ^ b).count_ones()).sum();
                self.dim as f32 - 2.0 * hamming as f32
            }
        }
    }

    /// The final score of `row`: [`Self::score`], except binary rows, which score the f32 query
    /// against their signs scaled to unit length.
    pub fn rescore(&self, query: &PreparedQuery, row: u32) -> f32 {
        if self.quantization != Quantization::Binary {
            return self.score(query, row);
        }
        let width = self.quantization.bytes_per_vector(self.dim);
        let codes = &self.codes[row as usize * width..(row as usize + 1) * width];
        let signed: f32 = query.query.iter().enumerate().map(|(d, q)| if codes[d / 8] >> (d % 8) & 1 == 1 { *q } else { -q }).sum();
        signed / (self.dim as f32).sqrt()
    }

    /// The rows `rows`, in that order, in a store of the same kind and calibration.
    pub fn rows_of(&self, rows: &[u32]) -> Self {
        let width = self.quantization.bytes_per_vector(self.dim);
        let codes = rows.iter().flat_map(|&row| &self.codes[row as usize * width..(row as usize + 1) * width]).copied().collect();
        Self { rows: rows.len(), codes, ..self.with_no_rows() }
    }

    /// A store of the same kind and calibration holding `codes`, rows as [`Self::rows_of`] lays
    /// them out; a query prepared for one scores the other.
    pub fn with_codes(&self, codes: &[u8]) -> Result<Self, FormatError> {
        let width = self.quantization.bytes_per_vector(self.dim);
        if !codes.len().is_multiple_of(width) {
            return Err(FormatError::Corrupt { section: SECTION, message: format!("{} bytes is not a whole number of rows", codes.len()) });
        }
        Ok(Self { rows: codes.len() / width, codes: codes.to_vec(), ..self.with_no_rows() })
    }

    /// The rows' codes, row after row, as [`Self::with_codes`] reads them.
    pub fn codes(&self) -> &[u8] {
        &self.codes
    }

    fn with_no_rows(&self) -> Self {
        Self {
            quantization: self.quantization,
            dim: self.dim,
            rows: 0,
            lows: self.lows.clone(),
            steps: self.steps.clone(),
            codes: Vec::new(),
        }
    }

    /// Row `row` as floats, as its codes stand for it (binary rows: signs scaled to unit length).
    pub fn dequantize(&self, row: u32) -> Vec<f32> {
        let width = self.quantization.bytes_per_vector(self.dim);
        let codes = &self.codes[row as usize * width..(row as usize + 1) * width];
        let scale = 1.0 / (self.dim as f32).sqrt();
        (0..self.dim)
            .map(|d| match self.quantization {
                Quantization::F32 => f32::from_le_bytes(codes[4 * d..4 * d + 4].try_into().expect("4 bytes")),
                Quantization::F16 => half::f16::from_le_bytes([codes[2 * d], codes[2 * d + 1]]).to_f32(),
                Quantization::Int8 => self.lows[d] + self.steps[d] * f32::from(codes[d]),
                Quantization::Binary if codes[d / 8] >> (d % 8) & 1 == 1 => scale,
                Quantization::Binary => -scale,
            })
            .collect()
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(20 + 8 * self.lows.len() + self.codes.len());
        out.extend_from_slice(MAGIC);
        for value in [VERSION, self.quantization.code(), self.dim as u32, self.rows as u32] {
            out.extend_from_slice(&value.to_le_bytes());
        }
        for value in self.lows.iter().chain(&self.steps) {
            out.extend_from_slice(&value.to_le_bytes());
        }
        out.extend_from_slice(&self.codes);
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, FormatError> {
        let header = bytes.get(..20).ok_or(FormatError::Truncated { section: SECTION, what: "header" })?;
        if &header[..4] != MAGIC {
            return Err(FormatError::BadMagic { section: SECTION });
        }
        let field = |i: usize| u32::from_le_bytes(header[4 * i..4 * i + 4].try_into().expect("4 bytes"));
        let version = field(1);
        if version != VERSION {
            return Err(FormatError::UnsupportedVersion { section: SECTION, found: version, supported: VERSION });
        }
        let corrupt = |message: String| FormatError::Corrupt { section: SECTION, message };
        let quantization = Quantization::ALL
            .into_iter()
            .find(|q| q.code() == field(2))
            .ok_or_else(|| corrupt(format!("unknown quantization code {}", field(2))))?;
        let (dim, rows) = (field(3) as usize, field(4) as usize);
        if dim == 0 {
            return Err(corrupt("dimension 0".into()));
        }
        let tables = if quantization == Quantization::Int8 { 2 * dim } else { 0 };
        let expected = (rows as u64) * quantization.bytes_per_vector(dim) as u64 + 4 * tables as u64;
        let body = &bytes[20..];
        if (body.len() as u64) < expected {
            return Err(FormatError::Truncated { section: SECTION, what: "rows" });
        }
        if body.len() as u64 > expected {
            return Err(corrupt(format!("{} bytes after the last row", body.len() as u64 - expected)));
        }
        let floats: Vec<f32> = body[..4 * tables].chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        if floats.iter().any(|v| !v.is_finite()) {
            return Err(corrupt("calibration table holds a non-finite value".into()));
        }
        let (lows, steps) = if tables > 0 { (floats[..dim].to_vec(), floats[dim..].to_vec()) } else { (Vec::new(), Vec::new()) };
        Ok(Self { quantization, dim, rows, lows, steps, codes: body[4 * tables..].to_vec() })
    }
}

/// Sign bits of `values`, packed eight to a byte, lowest dimension in the lowest bit.
pub(crate) fn sign_bits(values: &[f32]) -> Vec<u8> {
    let mut bits = vec![0u8; values.len().div_ceil(8)];
    for (d, &v) in values.iter().enumerate() {
        if v > 0.0 {
            bits[d / 8] |= 1 << (d % 8);
        }
    }
    bits
}

/// Inner product of `query` with a row of `W`-byte codes, decoded by `decode`, accumulated in
/// eight lanes so the compiler emits SIMD for every kind.
#[inline(always)]
fn dot_codes<const W: usize>(query: &[f32], codes: &[u8], decode: impl Fn(&[u8]) -> f32) -> f32 {
    let mut acc = [0f32; 8];
    let (q_chunks, q_rest) = query.as_chunks::<8>();
    for (q, c) in q_chunks.iter().zip(codes.chunks_exact(8 * W)) {
        for lane in 0..8 {
            acc[lane] += q[lane] * decode(&c[lane * W..(lane + 1) * W]);
        }
    }
    let tail_codes = &codes[q_chunks.len() * 8 * W..];
    let tail: f32 = q_rest.iter().zip(tail_codes.chunks_exact(W)).map(|(q, c)| q * decode(c)).sum();
    acc.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit_rows(rows: usize, dim: usize) -> Vec<f32> {
        let mut matrix: Vec<f32> = (0..rows * dim).map(|i| ((i * 7919 % 1000) as f32 / 500.0 - 1.0) * ((i % 13) as f32 + 1.0)).collect();
        for row in matrix.chunks_exact_mut(dim) {
            let norm = dot(row, row).sqrt();
            row.iter_mut().for_each(|v| *v /= norm);
        }
        matrix
    }

    #[test]
    fn every_kind_approximates_the_inner_product_and_round_trips() {
        let (rows, dim) = (50, 40);
        let matrix = unit_rows(rows, dim);
        let query = &matrix[..dim];
        for (quantization, tolerance) in [(Quantization::F32, 1e-6), (Quantization::F16, 2e-3), (Quantization::Int8, 2e-2)] {
            let store = VectorStore::quantize(&matrix, dim, quantization);
            assert_eq!(VectorStore::from_bytes(&store.to_bytes()).unwrap(), store);
            let prepared = store.prepare(query);
            for (row, values) in matrix.chunks_exact(dim).enumerate() {
                let exact = dot(query, values);
                assert!((store.rescore(&prepared, row as u32) - exact).abs() < tolerance, "{quantization} row {row}");
            }
        }
        let binary = VectorStore::quantize(&matrix, dim, Quantization::Binary);
        assert_eq!(VectorStore::from_bytes(&binary.to_bytes()).unwrap(), binary);
        let prepared = binary.prepare(query);
        assert_eq!(binary.score(&prepared, 0), dim as f32);
        assert!(binary.rescore(&prepared, 0) > binary.rescore(&prepared, 1));
    }

    #[test]
    fn selected_rows_keep_the_calibration_and_the_scores() {
        let (rows, dim) = (30, 24);
        let matrix = unit_rows(rows, dim);
        for quantization in Quantization::ALL {
            let store = VectorStore::quantize(&matrix, dim, quantization);
            let picked = store.rows_of(&[7, 2, 19]);
            let read = store.with_codes(&picked.codes).unwrap();
            assert_eq!(read, picked);
            let prepared = store.prepare(&matrix[..dim]);
            for (i, row) in [7u32, 2, 19].into_iter().enumerate() {
                assert_eq!(read.rescore(&prepared, i as u32), store.rescore(&prepared, row), "{quantization}");
                let values = store.dequantize(row);
                assert!((dot(&values, &matrix[..dim]) - store.rescore(&prepared, row)).abs() < 1e-4, "{quantization}");
            }
            assert!(store.with_codes(&picked.codes[1..]).is_err());
        }
    }

    #[test]
    fn rejects_bad_bytes() {
        let bytes = VectorStore::quantize(&unit_rows(4, 16), 16, Quantization::Int8).to_bytes();
        for len in 0..bytes.len() {
            assert!(VectorStore::from_bytes(&bytes[..len]).is_err(), "truncated at {len}");
        }
        let mut newer = bytes.clone();
        newer[4] = 9;
        assert!(matches!(VectorStore::from_bytes(&newer), Err(FormatError::UnsupportedVersion { found: 9, .. })));
        let mut longer = bytes;
        longer.push(0);
        assert!(matches!(VectorStore::from_bytes(&longer), Err(FormatError::Corrupt { .. })));
    }
}
