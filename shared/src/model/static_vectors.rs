//! The static query encoder's forward pass in plain Rust (no Burn): one learned vector per word
//! piece, averaged over a text's pieces and mapped by one linear layer into the teacher's vector
//! space ([`crate::model::StaticEncoder`] has the whole story and the trainable network). It needs
//! only the tokenizer, so the browser's small encoder worker runs it without Burn.
//!
//! The piece table is most of the model's bytes, and a query reads a few of its rows. So a bundle
//! also carries the table in fragments ([`StaticVectors::fragments`]): shards of consecutive
//! rows, and a head with the map and the shards' names. The browser loads the head, then only the
//! shards of the pieces its queries use ([`StaticVectors::missing`], [`StaticVectors::load_shard`]).

use serde::{Deserialize, Serialize};

use super::int8::{int8_matrix, read_metadata, read_tensor};
use super::{Encoded, ModelError, ModelFiles, WordPieces, STATIC_MODEL_TYPE};
use crate::fragments::{fragment, open_fragment, NamedFragment};

/// Word pieces in one shard of the table: about 2 kB of int8 rows for a 128-wide table. Fewer
/// make more names in the head (12 hex digits each), more make a query fetch rows it does not use.
pub const PIECES_PER_SHARD: usize = 16;

/// The head's metadata: pieces per shard, and the shards' names in order, comma-separated.
const PER_SHARD_KEY: &str = "dowse.pieces_per_shard";
const SHARDS_KEY: &str = "dowse.piece_shards";
const TABLE: &str = "pieces.weight";
const MAP: &str = "projection.weight";

/// The shape of a static encoder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StaticConfig {
    /// Always "dowse-static": tells a static encoder's folder from a BERT's.
    pub model_type: String,
    /// Rows of the piece table: the tokenizer's word pieces.
    pub vocab_size: usize,
    /// Length of a piece's vector.
    pub embed_dim: usize,
    /// Length of the output vectors: the teacher's.
    pub dim: usize,
    /// Word pieces of a text read, special tokens included.
    pub max_len: usize,
}

impl StaticConfig {
    pub const MODEL_TYPE: &'static str = STATIC_MODEL_TYPE;

    /// Parses and checks a `config.json`.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ModelError> {
        let config: Self = serde_json::from_slice(bytes).map_err(|e| ModelError::Config(e.to_string()))?;
        if config.model_type != Self::MODEL_TYPE {
            return Err(ModelError::Config(format!("model_type is {:?}, not {:?}", config.model_type, Self::MODEL_TYPE)));
        }
        if config.vocab_size == 0 || config.embed_dim == 0 || config.dim == 0 || config.max_len < 3 {
            return Err(ModelError::Config("vocab_size, embed_dim and dim must be above 0, max_len at least 3".into()));
        }
        Ok(config)
    }
}

/// A loaded static encoder: texts in, unit vectors out.
pub struct StaticVectors {
    /// Row-major `[vocab_size, embed_dim]`.
    table: Vec<f32>,
    /// Row-major `[embed_dim, dim]`.
    map: Vec<f32>,
    tokenizer: WordPieces,
    config: StaticConfig,
    /// Where the table came from the head alone: its shards, and which are loaded. Rows of a
    /// shard not loaded read as zeros.
    shards: Option<Shards>,
}

/// The table's shards, as the head names them.
struct Shards {
    per_shard: usize,
    names: Vec<String>,
    loaded: Vec<bool>,
}

/// A static encoder's table in fragments: the head (the map and the shards' names) and the
/// shards of rows.
pub struct PieceFragments {
    pub head: NamedFragment,
    pub shards: Vec<NamedFragment>,
}

impl StaticVectors {
    /// Loads a static encoder folder's files, the weights straight from the safetensors bytes.
    pub fn load(files: ModelFiles) -> Result<Self, ModelError> {
        let config = StaticConfig::from_json(files.config)?;
        let tokenizer = WordPieces::for_table(files.tokenizer, config.max_len, config.vocab_size)?;
        let read = |name: &str, shape: [usize; 2]| -> Result<Vec<f32>, ModelError> {
            let (found, values) = read_tensor(files.weights, name)?;
            if found != shape {
                return Err(ModelError::Weights(format!("tensor `{name}`: shape {found:?}, the config says {shape:?}")));
            }
            Ok(values)
        };
        let table = read(TABLE, [config.vocab_size, config.embed_dim])?;
        let map = read(MAP, [config.embed_dim, config.dim])?;
        Ok(Self { table, map, tokenizer, config, shards: None })
    }

    /// Loads a static encoder from its config, its tokenizer and the head of its table in
    /// fragments (the part, inflated: [`open_fragment`]), no row loaded yet.
    pub fn from_head(config: &[u8], tokenizer: &[u8], head: &[u8]) -> Result<Self, ModelError> {
        let config = StaticConfig::from_json(config)?;
        let tokenizer = WordPieces::for_table(tokenizer, config.max_len, config.vocab_size)?;
        let bad = |what: String| ModelError::Weights(format!("the table's head: {what}"));
        let (shape, map) = read_tensor(head, MAP)?;
        if shape != [config.embed_dim, config.dim] {
            return Err(bad(format!("`{MAP}` has shape {shape:?}, the config says {:?}", [config.embed_dim, config.dim])));
        }
        let per_shard = read_metadata(head, PER_SHARD_KEY)?.and_then(|n| n.parse::<usize>().ok()).filter(|&n| n > 0);
        let per_shard = per_shard.ok_or_else(|| bad(format!("no `{PER_SHARD_KEY}`")))?;
        let names: Vec<String> = read_metadata(head, SHARDS_KEY)?.unwrap_or_default().split(',').map(str::to_string).collect();
        if names.len() != config.vocab_size.div_ceil(per_shard) {
            return Err(bad(format!("{} shard names for {} pieces, {per_shard} a shard", names.len(), config.vocab_size)));
        }
        let table = vec![0f32; config.vocab_size * config.embed_dim];
        let loaded = vec![false; names.len()];
        Ok(Self { table, map, tokenizer, config, shards: Some(Shards { per_shard, names, loaded }) })
    }

    /// The table in fragments: shards of `per_shard` consecutive rows (int8, a scale a row) and
    /// the head that names them and carries the map.
    pub fn fragments(&self, per_shard: usize) -> PieceFragments {
        let shards: Vec<NamedFragment> = self.shard_parts(per_shard).iter().map(|part| fragment(part)).collect();
        let names: Vec<&str> = shards.iter().map(|(name, _)| name.as_str()).collect();
        PieceFragments { head: fragment(&self.head_part(per_shard, &names)), shards }
    }

    /// Whether a table in fragments is this encoder's, shards of `per_shard` rows: `head` is the
    /// head's part (inflated), and `open` hands over the part of the shard it names (checked
    /// against its name and inflated). Parts are compared, not names, so a table deflated by
    /// another build still matches.
    pub fn matches_fragments<E>(
        &self,
        per_shard: usize,
        head: &[u8],
        mut open: impl FnMut(&str) -> Result<Vec<u8>, E>,
    ) -> Result<bool, E> {
        let Ok(Some(names)) = read_metadata(head, SHARDS_KEY) else { return Ok(false) };
        let names: Vec<&str> = names.split(',').collect();
        let parts = self.shard_parts(per_shard);
        if names.len() != parts.len() || head != self.head_part(per_shard, &names) {
            return Ok(false);
        }
        for (name, part) in names.into_iter().zip(parts) {
            if open(name)? != part {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Each shard's part: `per_shard` consecutive rows of the table, int8.
    fn shard_parts(&self, per_shard: usize) -> Vec<Vec<u8>> {
        let width = self.config.embed_dim;
        self.table.chunks(per_shard * width).map(|rows| int8_matrix(TABLE, [rows.len() / width, width], rows, &[])).collect()
    }

    /// The head's part: the map, int8, and the shards' names.
    fn head_part(&self, per_shard: usize, names: &[&str]) -> Vec<u8> {
        let metadata = [(PER_SHARD_KEY, per_shard.to_string()), (SHARDS_KEY, names.join(","))];
        int8_matrix(MAP, [self.config.embed_dim, self.config.dim], &self.map, &metadata)
    }

    /// The names of the shards `encoded`'s pieces need that are not loaded yet.
    pub fn missing(&self, encoded: &Encoded) -> Vec<String> {
        let Some(shards) = &self.shards else { return Vec::new() };
        let mut wanted: Vec<usize> = encoded.ids.iter().map(|&id| id as usize / shards.per_shard).filter(|&s| !shards.loaded[s]).collect();
        wanted.sort_unstable();
        wanted.dedup();
        wanted.into_iter().map(|s| shards.names[s].clone()).collect()
    }

    /// Loads the shard named `name` from its bytes as stored, checking them against the name and
    /// its shape against the config.
    pub fn load_shard(&mut self, name: &str, stored: &[u8]) -> Result<(), ModelError> {
        let bad = |what: String| ModelError::Weights(format!("the table's shard {name}: {what}"));
        let Some(shards) = &mut self.shards else { return Ok(()) };
        let index = shards.names.iter().position(|n| n == name).ok_or_else(|| bad("the head names no such shard".into()))?;
        let bytes = &open_fragment(name, stored).map_err(|e| bad(e.to_string()))?;
        let width = self.config.embed_dim;
        let first = index * shards.per_shard;
        let rows = shards.per_shard.min(self.config.vocab_size - first);
        let (shape, values) = read_tensor(bytes, TABLE)?;
        if shape != [rows, width] {
            return Err(bad(format!("shape {shape:?}, expected {:?}", [rows, width])));
        }
        self.table[first * width..(first + rows) * width].copy_from_slice(&values);
        shards.loaded[index] = true;
        Ok(())
    }

    /// An encoder from a row-major `[vocab_size, embed_dim]` piece table and a row-major
    /// `[embed_dim, dim]` map.
    pub fn from_parts(table: Vec<f32>, map: Vec<f32>, tokenizer: WordPieces, config: StaticConfig) -> Self {
        Self { table, map, tokenizer, config, shards: None }
    }

    pub fn dim(&self) -> usize {
        self.config.dim
    }

    pub fn tokenizer(&self) -> &WordPieces {
        &self.tokenizer
    }

    /// One tokenized text's unit vector; a table from its head needs the text's shards loaded
    /// first ([`StaticVectors::missing`]).
    pub fn vector(&self, encoded: &Encoded) -> Vec<f32> {
        let width = self.config.embed_dim;
        let mut mean = vec![0f32; width];
        for &id in &encoded.ids {
            let row = &self.table[id as usize * width..(id as usize + 1) * width];
            mean.iter_mut().zip(row).for_each(|(m, v)| *m += v);
        }
        let mut out = vec![0f32; self.config.dim];
        for (m, map_row) in mean.iter().zip(self.map.chunks_exact(self.config.dim)) {
            out.iter_mut().zip(map_row).for_each(|(o, w)| *o += m * w);
        }
        let norm = out.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
        out.iter_mut().for_each(|v| *v /= norm);
        out
    }

    /// Encodes `texts` into a row-major `[texts.len(), dim]` matrix of unit vectors; `progress`
    /// hears how many are done every thousand texts.
    pub fn encode(&self, texts: &[&str], mut progress: impl FnMut(usize)) -> Result<Vec<f32>, ModelError> {
        let mut out = Vec::with_capacity(texts.len() * self.dim());
        for chunk in texts.chunks(1000) {
            for encoded in self.tokenizer.encode(chunk)? {
                out.extend(self.vector(&encoded));
            }
            progress(out.len() / self.dim());
        }
        Ok(out)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A tiny WordPiece `tokenizer.json` of ten pieces.
    pub(in crate::model) fn tokenizer_json() -> Vec<u8> {
        let vocab: Vec<String> = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "protein", "fold", "##ing", "cell", "a", "b"]
            .iter()
            .enumerate()
            .map(|(i, piece)| format!("{piece:?}: {i}"))
            .collect();
        format!(
            r###"{{"version":"1.0","truncation":null,"padding":null,"added_tokens":[],
            "normalizer":{{"type":"BertNormalizer","clean_text":true,"handle_chinese_chars":true,"strip_accents":null,"lowercase":true}},
            "pre_tokenizer":{{"type":"BertPreTokenizer"}},
            "post_processor":{{"type":"TemplateProcessing","single":[{{"SpecialToken":{{"id":"[CLS]","type_id":0}}}},{{"Sequence":{{"id":"A","type_id":0}}}},{{"SpecialToken":{{"id":"[SEP]","type_id":0}}}}],
              "pair":[{{"SpecialToken":{{"id":"[CLS]","type_id":0}}}},{{"Sequence":{{"id":"A","type_id":0}}}},{{"SpecialToken":{{"id":"[SEP]","type_id":0}}}},{{"Sequence":{{"id":"B","type_id":1}}}},{{"SpecialToken":{{"id":"[SEP]","type_id":1}}}}],
              "special_tokens":{{"[CLS]":{{"id":"[CLS]","ids":[2],"tokens":["[CLS]"]}},"[SEP]":{{"id":"[SEP]","ids":[3],"tokens":["[SEP]"]}}}}}},
            "decoder":null,
            "model":{{"type":"WordPiece","unk_token":"[UNK]","continuing_subword_prefix":"##","max_input_chars_per_word":100,"vocab":{{{}}}}}}}"###,
            vocab.join(",")
        )
        .into_bytes()
    }

    #[test]
    fn a_table_in_fragments_encodes_as_the_whole_one_once_its_shards_are_loaded() {
        let config = StaticConfig { model_type: StaticConfig::MODEL_TYPE.into(), vocab_size: 10, embed_dim: 4, dim: 6, max_len: 16 };
        let table: Vec<f32> = (0..40).map(|i| ((i * 7 % 11) as f32 - 5.0) / 5.0).collect();
        let map: Vec<f32> = (0..24).map(|i| ((i * 5 % 13) as f32 - 6.0) / 6.0).collect();
        let tokenizer = tokenizer_json();
        let config_json = serde_json::to_vec(&config).unwrap();
        let whole = StaticVectors::from_parts(table, map, WordPieces::from_bytes(&tokenizer, 16).unwrap(), config);
        let pieces = whole.fragments(3);
        assert_eq!(pieces.shards.len(), 4, "ten rows, three a shard");
        assert_eq!(whole.fragments(3).head.0, pieces.head.0, "the same table cuts into the same names");
        let part = |(name, stored): &NamedFragment| open_fragment(name, stored).unwrap();
        let mut lazy = StaticVectors::from_head(&config_json, &tokenizer, &part(&pieces.head)).unwrap();
        for (text, shards) in [("protein folding", 3), ("a cell", 0), ("unknownword b", 1)] {
            let encoded = &whole.tokenizer().encode(&[text]).unwrap()[0];
            let missing = lazy.missing(encoded);
            assert_eq!(missing.len(), shards, "{text}: only the shards not loaded yet");
            for name in &missing {
                let (_, bytes) = pieces.shards.iter().find(|(n, _)| n == name).unwrap();
                let mut flipped = bytes.clone();
                let last = flipped.len() - 1;
                flipped[last] ^= 1;
                assert!(lazy.load_shard(name, &flipped).is_err(), "a shard that does not hash to its name is refused");
                lazy.load_shard(name, bytes).unwrap();
            }
            assert!(lazy.missing(encoded).is_empty());
            let (expected, found) = (whole.vector(encoded), lazy.vector(encoded));
            let cosine: f32 = expected.iter().zip(&found).map(|(a, b)| a * b).sum();
            assert!(cosine > 0.999, "{text}: int8 rows moved the vector to cosine {cosine}");
        }
        assert!(lazy.load_shard(&pieces.head.0, &pieces.head.1).is_err(), "the head is not a shard");
        assert!(StaticVectors::from_head(&config_json, &tokenizer, &part(&pieces.shards[0])).is_err(), "a shard is not a head");
    }

    #[test]
    fn only_the_encoders_own_table_matches_its_fragments() {
        let config = StaticConfig { model_type: StaticConfig::MODEL_TYPE.into(), vocab_size: 10, embed_dim: 4, dim: 6, max_len: 16 };
        let encoder = |shift: f32| {
            let table: Vec<f32> = (0..40).map(|i| ((i * 7 % 11) as f32 - 5.0) / 5.0 + shift).collect();
            let map: Vec<f32> = (0..24).map(|i| ((i * 5 % 13) as f32 - 6.0) / 6.0).collect();
            StaticVectors::from_parts(table, map, WordPieces::from_bytes(&tokenizer_json(), 16).unwrap(), config.clone())
        };
        let (own, other) = (encoder(0.0), encoder(0.5));
        let pieces = own.fragments(3);
        let head = open_fragment(&pieces.head.0, &pieces.head.1).unwrap();
        let open = |name: &str| {
            let (_, stored) = pieces.shards.iter().find(|(n, _)| n == name).ok_or("no such shard")?;
            open_fragment(name, stored).map_err(|_| "damaged")
        };
        assert_eq!(own.matches_fragments(3, &head, open), Ok(true));
        assert_eq!(other.matches_fragments(3, &head, open), Ok(false), "another table");
        assert_eq!(own.matches_fragments(2, &head, open), Ok(false), "another cut");
        assert_eq!(own.matches_fragments(3, &open(&pieces.shards[0].0).unwrap(), open), Ok(false), "a shard is not a head");
        let first = pieces.shards[0].0.clone();
        let swapped = |name: &str| open(if name == first { &pieces.shards[1].0 } else { name });
        assert_eq!(own.matches_fragments(3, &head, swapped), Ok(false), "a shard in another's place");
    }
}
