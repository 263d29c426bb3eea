//! The JavaScript API, for sites that draw their own results:
//!
//! ```js
//! import * as dowse from "/_dowse/dowse.js";
//! const found = await dowse.search("how often to water", { mode: "hybrid", k: 10, filters: { tag: ["garden", "roses"] } });
//! const facets = await dowse.filters(); // { tag: [{ value: "garden", count: 12 }, ...], ... }
//! ```
//!
//! `dowse.js` calls [`search`] with its own folder as the bundle's and the app's. The first call
//! opens the bundle (manifest and root); the first semantic one also loads the query encoder and
//! waits for it, so a search always answers in the mode it asked for (`"bm25"` answers at once).
//! An empty query answers no results without loading anything.
//! Calls made while either is loading share the one load. The answer has the shape of
//! `dowse search --json`: the query, the mode, the results (rank, id, title, heading, URL,
//! metadata, score, the snippet as text and as HTML with the query's terms in `<mark>`), the
//! milliseconds per step and the bytes fetched; and, when the documents carry filters, every
//! value of each with how many of the best 100 results carry it. [`filters`] gives the site's
//! totals. Bad options reject with a message naming them.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use dowse_core::filters::{one_or_many, Filters};
use dowse_core::search::{Mode, SearchOptions};
use futures::future::{FutureExt, LocalBoxFuture, Shared};
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

use dowse_web::protocol::BackendChoice;

use crate::engine::{Engine, Facets, Outcome, Timings};

/// The most results one call may ask for, and the most passages it may feed back.
const MAX_K: usize = 100;

/// What `dowse.search` takes after the query; anything else is refused by name.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Options {
    mode: Mode,
    k: usize,
    /// The last word matches every word it begins, as while the visitor is still typing it.
    prefix: bool,
    /// Key to the value wanted, or to a list of values (any of them); every key must match.
    #[serde(deserialize_with = "one_or_many")]
    filters: Filters,
    /// Hybrid only: the first ranking's top passages that move the query before it searches
    /// again; 0 ranks once.
    feedback: usize,
}

impl Default for Options {
    /// [`SearchOptions`]' own defaults, so that the API searches as `dowse search` does.
    fn default() -> Self {
        let SearchOptions { mode, k, prefix, filters, feedback, .. } = SearchOptions::default();
        Self { mode, k, prefix, filters, feedback }
    }
}

impl From<Options> for SearchOptions {
    fn from(Options { mode, k, prefix, filters, feedback }: Options) -> Self {
        SearchOptions { mode, k, prefix, filters, feedback, ..SearchOptions::default() }
    }
}

type Load<T> = Shared<LocalBoxFuture<'static, Result<T, String>>>;

/// One bundle as the API reads it: the engine, once opened, and its query encoder, once loaded.
struct Session {
    engine: Load<Rc<Engine>>,
    encoder: RefCell<Option<Load<()>>>,
}

thread_local! {
    /// The sessions by bundle URL.
    static SESSIONS: RefCell<HashMap<String, Rc<Session>>> = RefCell::new(HashMap::new());
}

/// Searches the bundle at `bundle` (the app's files at `app`) for `query` with `options`; see the
/// module's documentation.
#[wasm_bindgen]
pub async fn search(bundle: String, app: String, query: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
    let failed = |message: String| JsValue::from(js_sys::Error::new(&format!("dowse.search: {message}")));
    let query = query.as_string().ok_or_else(|| failed("the query must be a string".into()))?;
    let options = read_options(&options).map_err(failed)?;
    if query.trim().is_empty() {
        let nothing = Outcome {
            query: String::new(),
            mode: options.mode,
            items: Vec::new(),
            timings: Timings::default(),
            point: None,
            filters: options.filters.clone(),
            facets: None,
        };
        return to_js(&answer(&nothing));
    }
    let (session, engine) = open(&bundle, &app).await.map_err(failed)?;
    if options.mode.is_dense() {
        let loading = session.encoder.borrow_mut().get_or_insert_with(|| load_encoder(engine.clone())).clone();
        loading.await.map_err(|e| {
            session.encoder.borrow_mut().take();
            failed(format!("{e}; mode \"bm25\" still searches"))
        })?;
    }
    let outcome = engine.search(query.trim(), options.into()).await.map_err(failed)?;
    to_js(&answer(&outcome))
}

/// Every value of every filter of the bundle at `bundle` with how many documents carry it (`{}`
/// when they carry none).
#[wasm_bindgen]
pub async fn filters(bundle: String, app: String) -> Result<JsValue, JsValue> {
    let failed = |message: String| JsValue::from(js_sys::Error::new(&format!("dowse.filters: {message}")));
    let (_, engine) = open(&bundle, &app).await.map_err(failed)?;
    let totals = engine.filter_totals().await.map_err(failed)?.unwrap_or_default();
    js_sys::JSON::parse(&serde_json::to_string(&totals).expect("counts serialize"))
}

/// `options` as given (`undefined` and `null` mean the defaults), checked.
fn read_options(options: &JsValue) -> Result<Options, String> {
    if options.is_undefined() || options.is_null() {
        return Ok(Options::default());
    }
    if !options.is_object() || js_sys::Array::is_array(options) {
        return Err("the options must be an object, e.g. { mode: \"bm25\", k: 10 }".into());
    }
    let text = js_sys::JSON::stringify(options).ok().and_then(|t| t.as_string()).unwrap_or_default();
    // From bytes, as every JSON the app reads, so the module links one serde_json reader.
    let options: Options = serde_json::from_slice(text.as_bytes()).map_err(|e| {
        let message = e.to_string();
        let message = message.split(" at line ").next().unwrap_or(&message).to_string();
        format!("bad options: {message}")
    })?;
    if !(1..=MAX_K).contains(&options.k) {
        return Err(format!("bad options: `k` must be between 1 and {MAX_K}, not {}", options.k));
    }
    if options.feedback > MAX_K {
        return Err(format!("bad options: `feedback` must be between 0 and {MAX_K}, not {}", options.feedback));
    }
    Ok(options)
}

/// The session of `bundle` and its engine, opened on first use; a failed opening is forgotten,
/// so that the next call tries again.
async fn open(bundle: &str, app: &str) -> Result<(Rc<Session>, Rc<Engine>), String> {
    let session = session(bundle, app);
    match session.engine.clone().await {
        Ok(engine) => Ok((session, engine)),
        Err(e) => {
            SESSIONS.with(|sessions| sessions.borrow_mut().remove(bundle));
            Err(e)
        }
    }
}

/// The session of `bundle`, opening the bundle on first use.
fn session(bundle: &str, app: &str) -> Rc<Session> {
    SESSIONS.with(|sessions| {
        let mut sessions = sessions.borrow_mut();
        let (bundle, app) = (bundle.to_string(), app.to_string());
        let open = {
            let bundle = bundle.clone();
            async move { Engine::open(&bundle, &app).await.map(Rc::new) }
        };
        let new = || Rc::new(Session { engine: open.boxed_local().shared(), encoder: RefCell::new(None) });
        sessions.entry(bundle).or_insert_with(new).clone()
    })
}

fn load_encoder(engine: Rc<Engine>) -> Load<()> {
    async move { engine.load_encoder(BackendChoice::Auto, &|_, _| {}).await.map(|_| ()) }.boxed_local().shared()
}

/// What a search answers: `dowse search --json`'s shape, with the snippet also as HTML.
#[derive(Serialize)]
struct Answer<'a> {
    query: &'a str,
    mode: &'static str,
    results: Vec<Found<'a>>,
    timings_ms: TimingsMs,
    fetched_bytes: u64,
    filters: &'a Option<Facets>,
}

/// One result of an [`Answer`].
#[derive(Serialize)]
struct Found<'a> {
    rank: usize,
    doc_id: &'a str,
    title: &'a str,
    heading: &'a str,
    url: &'a Option<String>,
    /// Key to value, a later field of a repeated key winning, as `dowse search --json` has it.
    meta: BTreeMap<&'a str, &'a str>,
    score: f32,
    snippet: &'a str,
    excerpt: String,
}

#[derive(Serialize)]
struct TimingsMs {
    tokenize: f64,
    encode: f64,
    search: f64,
}

/// `answer` as the JavaScript object the API resolves to.
fn to_js(answer: &Answer) -> Result<JsValue, JsValue> {
    js_sys::JSON::parse(&serde_json::to_string(answer).expect("answers serialize"))
}

/// The answer to `outcome`, borrowing its text.
fn answer(outcome: &Outcome) -> Answer<'_> {
    let results = outcome
        .items
        .iter()
        .enumerate()
        .map(|(rank, item)| {
            // Inserted one by one: collecting into a map would sort, a routine of its own.
            let mut meta = BTreeMap::new();
            for (key, value) in &item.meta {
                meta.insert(key.as_str(), value.as_str());
            }
            Found {
                rank: rank + 1,
                doc_id: &item.doc_id,
                title: &item.title,
                heading: &item.heading,
                url: &item.url,
                meta,
                score: item.score,
                snippet: &item.snippet.text,
                excerpt: item.snippet.html(),
            }
        })
        .collect();
    let t = outcome.timings;
    Answer {
        query: &outcome.query,
        mode: outcome.mode.name(),
        results,
        timings_ms: TimingsMs { tokenize: t.tokenize, encode: t.encode, search: t.search },
        fetched_bytes: t.fetched,
        filters: &outcome.facets,
    }
}
