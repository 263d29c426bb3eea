//! Reading a bundle in the browser piece by piece: the manifest (always revalidated with the
//! server), the root it names, the fragments each query asks for, the model's files (the
//! tokenizer as its deflated copy where the host does not send Brotli) and the map.
//! Content-addressed pieces are kept in the Cache API under their URL (the name is the hash of
//! the bytes, so a cached copy is never stale), the model's files and the map under a key that
//! carries their sha256. dowse-core checks every piece before it is used; a fragment that fails
//! its check (truncated, replaced, damaged in the cache) is fetched once more from the network,
//! then reported by name. A fragment the server no longer has means the site was rebuilt under
//! the open page: the caller reloads the root ([`Fetch::Rebuilt`]) instead of mixing versions.

use std::cell::RefCell;

use dowse_core::bundle::{self, fragment_path, Manifest, MANIFEST};
use dowse_core::fragments::{fragment_name, open_fragment, FragmentError, LazyBundle};
use dowse_core::projection::Projection;
use js_sys::Reflect;
use wasm_bindgen::JsValue;

use crate::fetch::{fetch_bytes, FileCache, HttpError};

/// Why fragments could not be loaded.
#[derive(Debug)]
pub enum Fetch {
    /// The server lacks a fragment and names another root: the site was rebuilt.
    Rebuilt,
    Failed(String),
}

impl Fetch {
    /// What to tell the visitor; `when` says when the site was rebuilt ("under this page").
    pub fn message(self, when: &str) -> String {
        match self {
            Self::Rebuilt => format!("the site's search was rebuilt {when}: reload the page"),
            Self::Failed(message) => message,
        }
    }
}

/// One bundle folder on a server, and the browser's cache of it.
pub struct Remote {
    base: String,
    cache: FileCache,
}

impl Remote {
    /// The bundle at `base`, an absolute URL ending in `/`.
    pub async fn open(base: &str) -> Self {
        Self { base: base.to_string(), cache: FileCache::open(&format!("dowse-bundle {base}")).await }
    }

    /// The bundle folder's absolute URL, ending in `/`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The manifest, fresh from the server.
    pub async fn manifest(&self) -> Result<Manifest, String> {
        let bytes = fetch_bytes(&format!("{}{MANIFEST}", self.base), &|_| {}).await.map_err(|e| {
            format!("no bundle could be read at {} ({}). Build one with `dowse index --input CORPUS --out FOLDER`.", self.base, e.message)
        })?;
        Manifest::from_json(&bytes).map_err(|e| format!("the bundle at {} cannot be used: {e}", self.base))
    }

    /// The root the manifest names, as a reader with no fragment loaded, and its bytes fetched.
    pub async fn root(&self, manifest: &Manifest) -> Result<(LazyBundle, u64), String> {
        let name = &manifest.fragments.root;
        let open = |bytes: &[u8]| bundle::open_root(manifest, bytes).map_err(|e| e.to_string());
        let (bytes, mut fetched) = self.fragment(name, true).await.map_err(|e| self.fragment_error(e))?;
        match open(&bytes) {
            Ok(root) => Ok((root, fetched)),
            Err(_) => {
                let (bytes, again) = self.fragment(name, false).await.map_err(|e| self.fragment_error(e))?;
                fetched += again;
                Ok((open(&bytes).map_err(|e| format!("the bundle at {} cannot be used: {e}", self.base))?, fetched))
            }
        }
    }

    /// Fetches the named fragments at once and loads them into `index`, the reader of the root
    /// named `root`; returns the bytes that came over the network.
    pub async fn load(&self, root: &str, index: &RefCell<LazyBundle>, names: Vec<String>) -> Result<u64, Fetch> {
        self.fetch(root, &names, |name, bytes| index.borrow_mut().load(name, bytes).map_err(|e| self.refused(e))).await
    }

    /// Fetches the named fragments at once, each checked against its name, in their order; with
    /// the bytes that came over the network. For what dowse-core does not read itself: the
    /// static query encoder's table.
    pub async fn fragments(&self, root: &str, names: &[String]) -> Result<(Vec<Vec<u8>>, u64), Fetch> {
        let mut found = Vec::with_capacity(names.len());
        let fetched = self
            .fetch(root, names, |name, bytes| {
                if fragment_name(bytes) != name {
                    return Err(format!(
                        "the bundle at {} cannot be used: {}: its bytes do not hash to its name",
                        self.base,
                        fragment_path(name)
                    ));
                }
                found.push(bytes.to_vec());
                Ok(())
            })
            .await?;
        Ok((found, fetched))
    }

    /// Fetches the named fragments at once and hands each to `accept`, which checks it; one that
    /// fails (damaged on the way or in the cache) is fetched once more from the network, then
    /// reported. Returns the bytes that came over the network.
    async fn fetch(&self, root: &str, names: &[String], mut accept: impl FnMut(&str, &[u8]) -> Result<(), String>) -> Result<u64, Fetch> {
        let fetches = names.iter().map(|name| self.fragment(name, true));
        let mut fetched = 0;
        for (name, result) in names.iter().zip(futures::future::join_all(fetches).await) {
            let (bytes, count) = match result {
                Ok(found) => found,
                Err(e) if e.status == Some(404) => return Err(self.rebuilt_or(root, e.message).await),
                Err(e) => return Err(Fetch::Failed(self.fragment_error(e))),
            };
            fetched += count;
            if accept(name, &bytes).is_err() {
                let (bytes, count) = self.fragment(name, false).await.map_err(|e| Fetch::Failed(self.fragment_error(e)))?;
                fetched += count;
                accept(name, &bytes).map_err(Fetch::Failed)?;
            }
        }
        Ok(fetched)
    }

    /// The query encoder's files (path, bytes), each checked against the manifest or its name,
    /// with the running byte count of those that come over the network; the encoder's worker
    /// reads them. A static encoder with its table in fragments needs its config, its tokenizer
    /// and the table's head; any other model its files under `model/`.
    pub async fn model(&self, manifest: &Manifest, progress: &dyn Fn(u64, u64)) -> Result<Vec<(String, Vec<u8>)>, String> {
        let listed = |path: &str| match &manifest.model.pieces {
            Some(_) => path == bundle::MODEL_CONFIG || path == bundle::MODEL_TOKENIZER,
            None => path.starts_with("model/"),
        };
        let total: u64 = manifest.files.iter().filter(|f| listed(&f.path)).map(|f| f.bytes).sum();
        let done = RefCell::new(0u64);
        let mut files = Vec::new();
        for entry in manifest.files.iter().filter(|f| listed(&f.path)) {
            let before = *done.borrow();
            let bytes = self.file(manifest, &entry.path, &|n| progress(before + n, total)).await?;
            *done.borrow_mut() += bytes.len() as u64;
            files.push((entry.path.clone(), bytes));
        }
        if let Some(head) = &manifest.model.pieces {
            let (mut head_bytes, _) = self
                .fragments(&manifest.fragments.root, std::slice::from_ref(head))
                .await
                .map_err(|e| e.message("while the query encoder loaded"))?;
            files.push((fragment_path(head), head_bytes.remove(0)));
        }
        Ok(files)
    }

    /// The embedding map.
    pub async fn map(&self, manifest: &Manifest) -> Result<Projection, String> {
        let bytes = self.file(manifest, bundle::MAP, &|_| {}).await?;
        let map = Projection::from_bytes(&bytes).map_err(|e| format!("{}{}: {e}", self.base, bundle::MAP))?;
        bundle::check_map(manifest, &map).map_err(|e| e.to_string())?;
        Ok(map)
    }

    /// A file the manifest lists, checked against its length and sha256: as the fragment its
    /// entry names, where it names one and the host does not send JSON with Brotli (deflated: a
    /// plain static server sends the file as it is, gzip a little larger); else from the cache
    /// when it holds those bytes, else from the network (and a cached copy that fails is fetched
    /// again).
    async fn file(&self, manifest: &Manifest, path: &str, progress: &dyn Fn(u64)) -> Result<Vec<u8>, String> {
        let refused = |e: &dyn std::fmt::Display| format!("the bundle at {} cannot be used: {e}", self.base);
        let copy = manifest.entry(path).and_then(|entry| entry.fragment.as_ref()).filter(|_| !self.host_sends_brotli());
        if let Some(name) = copy {
            // Checked against its name, inflated and checked against the entry in one pass; a
            // copy that fails is fetched once more, as every fragment is.
            let mut found = Vec::new();
            self.fetch(&manifest.fragments.root, std::slice::from_ref(name), |name, stored| {
                found = open_fragment(name, stored).map_err(|e| refused(&e))?;
                manifest.verify(path, &found).map_err(|e| refused(&e))
            })
            .await
            .map_err(|e| e.message("under this page"))?;
            progress(found.len() as u64);
            return Ok(found);
        }
        let url = format!("{}{path}", self.base);
        let key = format!("{url}?sha256={}", manifest.entry(path).map(|e| e.sha256.as_str()).unwrap_or_default());
        if let Some(bytes) = self.cache.get(&key).await.filter(|bytes| manifest.verify(path, bytes).is_ok()) {
            return Ok(bytes);
        }
        let mut bytes = fetch_bytes(&url, progress).await.map_err(|e| e.message)?;
        manifest.verify(path, &bytes).map_err(|e| refused(&e))?;
        self.cache.put(&key, &mut bytes).await;
        Ok(bytes)
    }

    /// Whether the host sent the manifest with Brotli, so compresses JSON with it, which beats a
    /// file's deflated copy (the tokenizer's: 53 kB against 68 on SciFact; gzip's 70 kB does
    /// not). A browser that does not name the encoding (resource timing's `contentEncoding`)
    /// counts any compression. dowse.js chooses between a module and its deflated copy by the
    /// same rule.
    fn host_sends_brotli(&self) -> bool {
        let url = format!("{}{MANIFEST}", self.base);
        let Some(performance) = web_sys::window().and_then(|w| w.performance()) else { return false };
        let field = |entry: &JsValue, key: &str| Reflect::get(entry, &key.into()).ok().filter(|v| !v.is_undefined());
        let size = |entry: &JsValue, key: &str| field(entry, key).and_then(|v| v.as_f64()).unwrap_or(0.0);
        performance.get_entries_by_name(&url).iter().any(|entry| match field(&entry, "contentEncoding") {
            Some(encoding) => encoding.as_string().as_deref() == Some("br"),
            None => {
                let encoded = size(&entry, "encodedBodySize");
                encoded > 0.0 && encoded < size(&entry, "decodedBodySize")
            }
        })
    }

    /// A fragment's bytes and how many of them came over the network: from the cache when
    /// `cached` allows and it has them, else fetched and kept.
    async fn fragment(&self, name: &str, cached: bool) -> Result<(Vec<u8>, u64), HttpError> {
        let url = format!("{}{}", self.base, fragment_path(name));
        if cached {
            if let Some(bytes) = self.cache.get(&url).await {
                return Ok((bytes, 0));
            }
        }
        let bytes = fetch_bytes(&url, &|_| {}).await?;
        // Stored in the background: the search needs the bytes now, not the cache's answer.
        let (cache, mut copy) = (self.cache.clone(), bytes.clone());
        wasm_bindgen_futures::spawn_local(async move { cache.put(&url, &mut copy).await });
        let count = bytes.len() as u64;
        Ok((bytes, count))
    }

    /// Whether the site was rebuilt (the manifest names another root than `root`) or the
    /// fragment is simply gone.
    async fn rebuilt_or(&self, root: &str, message: String) -> Fetch {
        match self.manifest().await {
            Ok(manifest) if manifest.fragments.root != root => Fetch::Rebuilt,
            _ => Fetch::Failed(format!("the bundle at {} cannot be used: {message}", self.base)),
        }
    }

    fn fragment_error(&self, error: HttpError) -> String {
        format!("the bundle at {} cannot be used: {}", self.base, error.message)
    }

    fn refused(&self, error: FragmentError) -> String {
        format!("the bundle at {} cannot be used: {}/{error}", self.base, bundle::FRAGMENTS)
    }
}
