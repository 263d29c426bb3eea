//! One query in the browser, start to end: encode it (once the query encoder has loaded; keyword
//! search until then), ask dowse-core which fragments the search lacks, fetch them through
//! [`Remote`], search, fetch the text of the results, and turn the hits into what the page shows,
//! timing each step. A site rebuilt under the open page is noticed when a fragment is gone: the
//! engine reloads the manifest and the root, and the query encoder too when the model changed.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use dowse_core::bundle::{FileEntry, Manifest};
use dowse_core::docstore::passage_url;
use dowse_core::filters::{Filters, ValueCount};
use dowse_core::fragments::LazyBundle;
use dowse_core::passage::passage_text;
use dowse_core::projection::Projection;
use dowse_core::search::{Hit, Mode, SearchOptions};
use dowse_core::text::{snippet, Analyzer, Snippet};

use dowse_web::browser::now_ms;
use dowse_web::protocol::{BackendChoice, Encoding};

use crate::encoder::{worker_module, Answer, QueryEncoder};
use crate::loader::{Fetch, Remote};

/// Snippet length in bytes.
const SNIPPET_BYTES: usize = 240;
/// Results whose filters the facets count (their text is fetched only for those shown).
const COUNT_DEPTH: usize = 100;

/// Each filter key's values, each with how many results carry it.
pub type Facets = BTreeMap<String, Vec<ValueCount>>;

/// The manifest and the reader of the root it names.
struct Loaded {
    manifest: Manifest,
    index: RefCell<LazyBundle>,
    /// The site's root URL, where the documents' URLs start ([`Manifest::site`]).
    site: Option<String>,
}

/// A bundle being read from its server, and the encoder for its queries once it has loaded.
pub struct Engine {
    remote: Remote,
    /// The app's folder, where the encoder's worker is.
    app: String,
    loaded: RefCell<Rc<Loaded>>,
    encoder: RefCell<Option<Rc<QueryEncoder>>>,
    map: RefCell<Option<Rc<Projection>>>,
    analyzer: Analyzer,
}

/// One document in the results.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultItem {
    pub doc_id: String,
    pub title: String,
    pub heading: String,
    /// Absolute when the bundle knows the site's root, else relative to the page.
    pub url: Option<String>,
    /// The page's `data-dowse-meta` fields, in page order; an `image` resolved as `url` is.
    pub meta: Vec<(String, String)>,
    pub snippet: Snippet,
    /// The whole passage, for the reranker.
    pub text: String,
    pub passage: u32,
    pub score: f32,
}

/// Milliseconds per step, and what was fetched.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timings {
    /// Word pieces (or a DSSM's trigrams) encoded; 0 for BM25 alone.
    pub tokens: usize,
    /// What `tokens` counts; empty for BM25 alone.
    pub unit: &'static str,
    pub tokenize: f64,
    pub encode: f64,
    /// Fetching the fragments the query lacked, searching and fetching the results' text.
    pub search: f64,
    /// Bytes of fragments that came over the network for this query.
    pub fetched: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub query: String,
    /// The mode searched: keyword search stands in for a semantic mode until the encoder loads.
    pub mode: Mode,
    pub items: Vec<ResultItem>,
    pub timings: Timings,
    /// Where the query falls on the embedding map; none without a vector or a map.
    pub point: Option<[f32; 2]>,
    /// The filters searched with.
    pub filters: Filters,
    /// Every value of every filter with how many of the best results (up to 100) carry it;
    /// `None` when the documents carry no filters.
    pub facets: Option<Facets>,
}

impl Engine {
    /// Opens the bundle at `base`: the manifest and the root, all a keyword search needs first.
    /// `app` is the app's folder, whose encoder worker [`Engine::load_encoder`] starts.
    pub async fn open(base: &str, app: &str) -> Result<Self, String> {
        let remote = Remote::open(base).await;
        let loaded = load_root(&remote).await?;
        let (encoder, map) = (RefCell::new(None), RefCell::new(None));
        Ok(Self { remote, app: app.to_string(), loaded: RefCell::new(loaded), encoder, map, analyzer: Analyzer::default() })
    }

    /// Fetches the query encoder's files (`progress`: bytes done and total), loads them in the
    /// encoder's worker on WebGPU or the CPU, encodes a short text once so that the first real
    /// query does not pay for shader compilation, and keeps it; returns its label and why the
    /// CPU was chosen, if it was.
    pub async fn load_encoder(&self, choice: BackendChoice, progress: &dyn Fn(u64, u64)) -> Result<(&'static str, Option<String>), String> {
        let manifest = self.loaded.borrow().manifest.clone();
        let cannot = |e: String| format!("the bundle's model cannot be loaded: {e}");
        // The worker's module and the model's files download side by side.
        let worker = QueryEncoder::start(&self.app, worker_module(&manifest)).map_err(cannot)?;
        let files = self.remote.model(&manifest, progress).await?;
        let (encoder, why_cpu) = worker.load(&manifest, files, choice).await.map_err(cannot)?;
        let encoder = Rc::new(encoder);
        self.encode_with(&encoder, "warm up").await.map_err(|e| format!("the encoder failed its warm-up: {e}"))?;
        let label = encoder.label();
        *self.encoder.borrow_mut() = Some(encoder);
        Ok((label, why_cpu))
    }

    /// Fetches the embedding map and keeps it.
    pub async fn load_map(&self) -> Result<(), String> {
        let manifest = self.loaded.borrow().manifest.clone();
        let map = self.remote.map(&manifest).await?;
        *self.map.borrow_mut() = Some(Rc::new(map));
        Ok(())
    }

    pub fn map(&self) -> Option<Rc<Projection>> {
        self.map.borrow().clone()
    }

    /// A passage's title and heading, where its document's text has been fetched.
    pub fn passage_title(&self, passage: u32) -> Option<String> {
        let loaded = self.loaded.borrow().clone();
        let index = loaded.index.borrow();
        let (doc, passage) = index.passage(passage).ok()?;
        Some(if passage.heading.is_empty() { doc.title.clone() } else { format!("{} › {}", doc.title, passage.heading) })
    }

    /// Searches for `query` with `options` (keyword search while the encoder loads); after a
    /// rebuild of the site noticed on the way, once more on the new root.
    pub async fn search(&self, query: &str, options: SearchOptions) -> Result<Outcome, String> {
        let encoder = self.encoder.borrow().clone();
        let mode = if encoder.is_none() { Mode::Bm25 } else { options.mode };
        let mut timings = Timings::default();
        let encoding = match (mode.is_dense(), encoder) {
            (true, Some(encoder)) => Some(self.encode_with(&encoder, query).await?),
            _ => None,
        };
        if let Some((encoding, fetched)) = &encoding {
            timings.fetched += fetched;
            timings.tokens = encoding.tokens;
            timings.unit = encoding.unit.name();
            timings.tokenize = encoding.tokenize_ms;
            timings.encode = encoding.encode_ms;
        }
        let vector = encoding.as_ref().map(|(e, _)| e.vector.as_slice());
        let start = now_ms();
        let options = SearchOptions { mode, ..options };
        let (items, facets, fetched) = match self.fetch_and_search(query, vector, &options).await {
            Err(Fetch::Rebuilt) => {
                self.reopen().await?;
                self.fetch_and_search(query, vector, &options).await.map_err(|e| e.message("twice during one search"))?
            }
            Err(Fetch::Failed(message)) => return Err(message),
            Ok(found) => found,
        };
        timings.search = now_ms() - start;
        timings.fetched += fetched;
        let point = vector.zip(self.map()).map(|(vector, map)| map.project(vector));
        Ok(Outcome { query: query.to_string(), mode, items, timings, point, filters: options.filters, facets })
    }

    /// Every value of every filter with how many documents carry it, fetching the filters if
    /// needed; `None` when the documents carry no filters.
    pub async fn filter_totals(&self) -> Result<Option<Facets>, String> {
        let loaded = self.loaded.borrow().clone();
        let names = loaded.index.borrow().missing_for_filters();
        let root = loaded.manifest.fragments.root.clone();
        self.remote.load(&root, &loaded.index, names).await.map_err(|e| e.message("under this page"))?;
        let index = loaded.index.borrow();
        let filters = index.filters().map_err(|e| e.to_string())?;
        Ok(filters.map(|filters| filters.totals()))
    }

    /// Encodes `query` with `encoder`, fetching the table shards it asks for first; with the
    /// bytes that came over the network.
    async fn encode_with(&self, encoder: &QueryEncoder, query: &str) -> Result<(Encoding, u64), String> {
        let root = self.loaded.borrow().manifest.fragments.root.clone();
        let (mut pieces, mut bytes, mut fetched) = (Vec::new(), Vec::new(), 0);
        loop {
            match encoder.encode(query, pieces.clone(), &bytes).await? {
                Answer::Encoded(encoding) => return Ok((encoding, fetched)),
                Answer::Missing(names) if names == pieces => return Err(format!("the query encoder asked again for {}", names.join(", "))),
                Answer::Missing(names) => {
                    let (found, count) = self.remote.fragments(&root, &names).await.map_err(|e| e.message("under this page"))?;
                    (pieces, bytes, fetched) = (names, found, fetched + count);
                }
            }
        }
    }

    /// Fetches what the search lacks until nothing is (the filters too, to count them), searches
    /// [`COUNT_DEPTH`] deep to count the facets, fetches the text of the `k` results shown and
    /// builds their items; returns them, the facets and the bytes fetched.
    async fn fetch_and_search(
        &self,
        query: &str,
        vector: Option<&[f32]>,
        options: &SearchOptions,
    ) -> Result<(Vec<ResultItem>, Option<Facets>, u64), Fetch> {
        let loaded = self.loaded.borrow().clone();
        let root = loaded.manifest.fragments.root.clone();
        let terms = self.analyzer.analyze(query);
        let mut fetched = 0;
        // The first k of a deeper search are the k of a search k deep: fusion takes a prefix.
        let deep = SearchOptions { k: options.k.max(COUNT_DEPTH), ..options.clone() };
        // Each ask runs the search as far as the loaded fragments allow; the filter index (for
        // the facets) comes with the first fetch.
        let mut hits = loop {
            let found = loaded.index.borrow().search_or_missing(&terms, vector, &[], &deep);
            let mut names = loaded.index.borrow().missing_for_filters();
            match found {
                Ok(hits) if names.is_empty() => break hits,
                Ok(_) => {}
                Err(missing) => names.extend(missing),
            }
            names.sort_unstable();
            names.dedup();
            fetched += self.remote.load(&root, &loaded.index, names).await?;
        };
        let docs: Vec<u32> = hits.iter().map(|hit| hit.doc).collect();
        let facets = loaded.index.borrow().filters().map_err(|e| Fetch::Failed(e.to_string()))?.map(|filters| filters.counts(&docs));
        hits.truncate(options.k);
        let names = loaded.index.borrow().missing_for_hits(&hits);
        fetched += self.remote.load(&root, &loaded.index, names).await?;
        let index = loaded.index.borrow();
        let site = loaded.site.as_deref();
        let items = hits.iter().map(|hit| item(&index, site, &self.analyzer, query, hit)).collect::<Result<_, _>>();
        Ok((items.map_err(|e: dowse_core::fragments::Missing| Fetch::Failed(e.to_string()))?, facets, fetched))
    }

    /// Reads the rebuilt site's manifest and root; drops the encoder and the map when their
    /// files changed, reloading the encoder on the same backend.
    async fn reopen(&self) -> Result<(), String> {
        let before = self.loaded.borrow().manifest.files.clone();
        let loaded = load_root(&self.remote).await?;
        let changed = |prefix: &str| {
            let of = |files: &[FileEntry]| files.iter().filter(|f| f.path.starts_with(prefix)).cloned().collect::<Vec<_>>();
            of(&before) != of(&loaded.manifest.files)
        };
        let (model_changed, map_changed) = (changed("model/"), changed(dowse_core::bundle::MAP));
        *self.loaded.borrow_mut() = loaded;
        if map_changed {
            *self.map.borrow_mut() = None;
            self.load_map().await?;
        }
        if model_changed {
            let choice = match self.encoder.borrow_mut().take().map(|e| e.label()) {
                Some("CPU") => BackendChoice::Cpu,
                _ => BackendChoice::Auto,
            };
            self.load_encoder(choice, &|_, _| {}).await?;
        }
        Ok(())
    }
}

async fn load_root(remote: &Remote) -> Result<Rc<Loaded>, String> {
    let manifest = remote.manifest().await?;
    let (index, _) = remote.root(&manifest).await?;
    let site = manifest.site.as_deref().map(|site| resolve(site, remote.base()));
    Ok(Rc::new(Loaded { manifest, index: RefCell::new(index), site }))
}

/// `url` resolved against `base` (absolute), or as it is without a base or when it cannot be.
fn resolve(url: &str, base: &str) -> String {
    web_sys::Url::new_with_base(url, base).map(|u| u.href()).unwrap_or_else(|_| url.to_string())
}

/// What the page shows for one hit, its link and image resolved against the site's root `site`;
/// its document's chunk must be loaded.
fn item(
    index: &LazyBundle,
    site: Option<&str>,
    analyzer: &Analyzer,
    query: &str,
    hit: &Hit,
) -> Result<ResultItem, dowse_core::fragments::Missing> {
    let (doc, passage) = index.passage(hit.passage)?;
    let link = |url: &str| site.map_or_else(|| url.to_string(), |site| resolve(url, site));
    let meta = doc.meta.iter().map(|(key, value)| (key.clone(), if key == "image" { link(value) } else { value.clone() }));
    Ok(ResultItem {
        doc_id: doc.id.clone(),
        title: doc.title.clone(),
        heading: passage.heading.clone(),
        url: passage_url(doc, passage).map(link),
        meta: meta.collect(),
        snippet: snippet(analyzer, &passage.text, query, SNIPPET_BYTES),
        text: passage_text(&doc.title, &passage.heading, &passage.text),
        passage: hit.passage,
        score: hit.score,
    })
}
