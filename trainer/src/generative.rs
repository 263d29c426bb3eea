//! Generative retrieval at search time: a folder `dowse train dsi` wrote, loaded to rank the
//! documents of one collection or bundle. What the folder holds ([`IdTable`], the `"dsi"` section
//! of its config), how a tokenized query becomes documents ([`retrieve`]: beam search over the
//! [`IdTrie`] of the table's IDs), and [`DsiRetriever`], which `dowse eval`, `dowse search` and
//! `dowse serve` use. A model searches only the documents it was trained on: loading it for
//! others is refused, naming both.

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use burn::tensor::backend::Backend;
use dowse_core::id_trie::IdTrie;
use dowse_core::model::{load_weights, pad_batch, Bert, BertConfig, Dsi, DsiConfig, Encoded, TextTokenizer};
use dowse_core::semantic_ids::SemanticIds;
use serde::{Deserialize, Serialize};

use crate::device::BackendJob;
use crate::model_folder;

/// Where a DSI folder keeps its ID table.
pub const ID_TABLE: &str = "semantic_ids.json";

/// The ID table a DSI folder carries: which collection document each semantic ID names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdTable {
    /// The documents' ids in the collection, in the order of `semantic_ids`.
    pub documents: Vec<String>,
    pub semantic_ids: SemanticIds,
}

/// What a DSI folder's config.json holds under `"dsi"` beside the base BERT's fields.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DsiFolderConfig {
    pub decoder: DsiConfig,
    /// Tokens a query is cut to, special tokens included.
    pub max_len: usize,
}

/// The `k` documents constrained beam search (`beam` prefixes a step) finds for one tokenized
/// query, best first, as positions in the ID table scored by their IDs' log-probability.
pub fn retrieve<B: Backend>(model: &Dsi<B>, trie: &IdTrie, beam: usize, query: &Encoded, k: usize, device: &B::Device) -> Vec<(u32, f32)> {
    let (ids, types, mask) = pad_batch::<B>(&[query], query.ids.len(), device);
    let memory = model.encode(ids, types, mask);
    let found = trie.beam_search(beam, k, |prefixes| Ok::<_, std::convert::Infallible>(model.digit_log_probs(&memory, prefixes)));
    found.unwrap_or_else(|never| match never {})
}

/// A trained DSI folder, loaded to search one set of documents: the network, its tokenizer, the
/// trie of its IDs and, for each ID, the document it names in the caller's numbering.
pub struct DsiRetriever<B: Backend> {
    model: Dsi<B>,
    trie: IdTrie,
    /// Position in the ID table -> the caller's document number.
    numbering: Vec<u32>,
    tokenizer: TextTokenizer,
    device: B::Device,
}

impl<B: Backend> DsiRetriever<B> {
    /// Loads the folder `dir` to search `documents` (their ids, in the caller's numbering;
    /// `source` names them in errors). The ID table must name exactly these documents.
    pub fn load(dir: &Path, documents: &[&str], source: &str, device: &B::Device) -> Result<Self> {
        let files = model_folder::read(dir)?;
        let config_path = dir.join("config.json");
        let bert = BertConfig::from_json(&files.config).with_context(|| format!("{}", config_path.display()))?;
        let json: serde_json::Value = serde_json::from_slice(&files.config).with_context(|| format!("{}", config_path.display()))?;
        let folder: DsiFolderConfig = serde_json::from_value(json["dsi"].clone())
            .with_context(|| format!("{}: no \"dsi\" section (not a model `dowse train dsi` wrote)", config_path.display()))?;
        let table_path = dir.join(ID_TABLE);
        let table: IdTable =
            serde_json::from_slice(&std::fs::read(&table_path).with_context(|| format!("reading {}", table_path.display()))?)
                .with_context(|| format!("{}: not an ID table", table_path.display()))?;
        let ids = &table.semantic_ids;
        if ids.len() != table.documents.len() || ids.digits() != folder.decoder.digits || ids.depth() > folder.decoder.depth {
            bail!(
                "{}: {} IDs of up to {} digits of {} values for {} documents, where the network decodes {} digits of {} values",
                table_path.display(),
                ids.len(),
                ids.depth(),
                ids.digits(),
                table.documents.len(),
                folder.decoder.depth,
                folder.decoder.digits
            );
        }
        let numbering = numbering(&table.documents, documents).with_context(|| {
            format!("{}: a DSI model searches only the documents it was trained on, not {source}", table_path.display())
        })?;
        let mut model = Dsi::new(Bert::new(&bert, device), &bert, &folder.decoder, device);
        load_weights(&mut model, &files.weights).with_context(|| format!("{}", dir.join("model.safetensors").display()))?;
        let tokenizer = TextTokenizer::for_bert(&files.tokenizer, folder.max_len, &bert).context("the model's tokenizer")?;
        Ok(Self { model, trie: IdTrie::new(table.semantic_ids.ids()), numbering, tokenizer, device: device.clone() })
    }

    /// The `k` best documents for `query` (the caller's numbers) by the log-probability of their
    /// IDs, decoding with `beam` prefixes a step.
    pub fn search(&self, query: &str, k: usize, beam: usize) -> Result<Vec<(u32, f32)>> {
        let query = self.tokenizer.encode(&[query])?.remove(0);
        let found = retrieve(&self.model, &self.trie, beam, &query, k, &self.device);
        Ok(found.into_iter().map(|(position, score)| (self.numbering[position as usize], score)).collect())
    }
}

/// For each of the table's documents, its position among `documents`; an error says how the two
/// differ when they are not the same documents.
fn numbering(table: &[String], documents: &[&str]) -> Result<Vec<u32>> {
    let position: HashMap<&str, u32> = documents.iter().enumerate().map(|(i, &id)| (id, i as u32)).collect();
    let unknown = table.iter().find(|id| !position.contains_key(id.as_str()));
    if table.len() != documents.len() || unknown.is_some() {
        bail!(
            "its ID table names {} documents{}, where there are {}",
            table.len(),
            unknown.map_or(String::new(), |id| format!(" (among them {id:?}, which is not there)")),
            documents.len()
        );
    }
    Ok(table.iter().map(|id| position[id.as_str()]).collect())
}

/// Loads a DSI folder on a backend and ranks queries with it: what `dowse eval` and `dowse search`
/// run on the `--device` they were given.
pub struct RankQueries<'a> {
    pub dir: &'a Path,
    pub documents: &'a [&'a str],
    /// What the documents are, for errors (a collection's or a bundle's folder).
    pub source: &'a str,
    pub queries: &'a [&'a str],
    /// Documents per query, and prefixes the beam keeps a step.
    pub depth: usize,
}

/// Each query's documents, and what decoding took a query once the model was loaded.
pub struct Ranked {
    pub rankings: Vec<Vec<(u32, f32)>>,
    pub decode_ms_per_query: f64,
}

impl BackendJob for RankQueries<'_> {
    type Output = Result<Ranked>;

    fn run<B: Backend>(self, device: B::Device) -> Self::Output {
        let retriever = DsiRetriever::<B>::load(self.dir, self.documents, self.source, &device)?;
        let started = Instant::now();
        let rankings = self.queries.iter().map(|query| retriever.search(query, self.depth, self.depth)).collect::<Result<Vec<_>>>()?;
        let decode_ms_per_query = started.elapsed().as_secs_f64() * 1e3 / self.queries.len().max(1) as f64;
        Ok(Ranked { rankings, decode_ms_per_query })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_the_tables_documents_as_the_caller_does_and_refuses_others() {
        let table = vec!["b".to_string(), "a".to_string(), "c".to_string()];
        assert_eq!(numbering(&table, &["a", "b", "c"]).unwrap(), vec![1, 0, 2]);
        let missing = numbering(&table, &["a", "b"]).unwrap_err().to_string();
        assert!(missing.contains("names 3 documents") && missing.contains("there are 2"), "{missing}");
        let other = numbering(&table, &["a", "b", "d"]).unwrap_err().to_string();
        assert!(other.contains("\"c\""), "{other}");
    }
}
