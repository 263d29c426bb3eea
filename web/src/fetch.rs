//! Getting bytes over HTTP in the browser: streamed with progress, and kept in the Cache API under
//! a key that changes with the bytes (a fragment's content-addressed URL, a file's URL with its
//! sha256), so a reload reads them locally and a changed file misses.

use dowse_web::browser::js_error;
use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Cache, ReadableStreamDefaultReader, RequestCache, RequestInit, Response};

/// A fetch that failed: the HTTP status where the server answered, and what went wrong.
#[derive(Debug)]
pub struct HttpError {
    pub status: Option<u16>,
    pub message: String,
}

impl From<String> for HttpError {
    fn from(message: String) -> Self {
        Self { status: None, message }
    }
}

impl From<&str> for HttpError {
    fn from(message: &str) -> Self {
        message.to_string().into()
    }
}

/// Fetches `url`, revalidating with the server (`no-cache`: an ETag makes that a 304), and hands
/// the running byte count to `progress` as the body streams in.
pub async fn fetch_bytes(url: &str, progress: &dyn Fn(u64)) -> Result<Vec<u8>, HttpError> {
    let window = web_sys::window().ok_or("no window")?;
    let init = RequestInit::new();
    init.set_cache(RequestCache::NoCache);
    let response = JsFuture::from(window.fetch_with_str_and_init(url, &init)).await.map_err(|e| format!("{url}: {}", js_error(e)))?;
    let response: Response = response.dyn_into().map_err(js_error)?;
    if !response.ok() {
        let message = format!("{url}: HTTP {} {}", response.status(), response.status_text());
        return Err(HttpError { status: Some(response.status()), message });
    }
    let Some(body) = response.body() else { return Ok(Vec::new()) };
    let reader: ReadableStreamDefaultReader = body.get_reader().dyn_into().map_err(|e| js_error(e.into()))?;
    let mut bytes = Vec::new();
    loop {
        let chunk = JsFuture::from(reader.read()).await.map_err(|e| format!("{url}: {}", js_error(e)))?;
        if Reflect::get(&chunk, &"done".into()).map_err(js_error)?.as_bool().unwrap_or(true) {
            break;
        }
        let value: Uint8Array = Reflect::get(&chunk, &"value".into()).map_err(js_error)?.dyn_into().map_err(js_error)?;
        let start = bytes.len();
        bytes.resize(start + value.length() as usize, 0);
        value.copy_to(&mut bytes[start..]);
        progress(bytes.len() as u64);
    }
    Ok(bytes)
}

/// The browser's Cache API for one bundle; absent where the page is not a secure context.
#[derive(Clone)]
pub struct FileCache {
    cache: Option<Cache>,
}

impl FileCache {
    pub async fn open(name: &str) -> Self {
        let Some(caches) = web_sys::window().and_then(|w| w.caches().ok()) else { return Self { cache: None } };
        let cache = JsFuture::from(caches.open(name)).await.ok().and_then(|c| c.dyn_into::<Cache>().ok());
        Self { cache }
    }

    /// The stored bytes for `key`, if any.
    pub async fn get(&self, key: &str) -> Option<Vec<u8>> {
        let cache = self.cache.as_ref()?;
        let found = JsFuture::from(cache.match_with_str(key)).await.ok()?;
        let response: Response = found.dyn_into().ok()?;
        let buffer = JsFuture::from(response.array_buffer().ok()?).await.ok()?;
        Some(Uint8Array::new(&buffer).to_vec())
    }

    /// Stores `bytes` under `key`; a full or missing cache only costs the next reload a download.
    pub async fn put(&self, key: &str, bytes: &mut [u8]) {
        let Some(cache) = &self.cache else { return };
        if let Ok(response) = Response::new_with_opt_u8_array(Some(bytes)) {
            let _ = JsFuture::from(cache.put_with_str(key, &response)).await;
        }
    }
}

/// Sends a JSON request (a GET without `body`) and gives the answer's bytes, which the caller
/// parses into its own type; gives up after `timeout_ms`, aborting the request.
pub async fn fetch_json(url: &str, body: Option<String>, timeout_ms: i32) -> Result<Vec<u8>, String> {
    let window = web_sys::window().ok_or("no window")?;
    let controller = web_sys::AbortController::new().map_err(js_error)?;
    let init = RequestInit::new();
    init.set_signal(Some(&controller.signal()));
    init.set_cache(RequestCache::NoStore);
    if let Some(body) = body {
        init.set_method("POST");
        init.set_body(&JsValue::from_str(&body));
        let headers = web_sys::Headers::new().map_err(js_error)?;
        headers.set("content-type", "application/json").map_err(js_error)?;
        init.set_headers(&headers);
    }
    let abort = wasm_bindgen::closure::Closure::once(move || controller.abort());
    let timer =
        window.set_timeout_with_callback_and_timeout_and_arguments_0(abort.as_ref().unchecked_ref(), timeout_ms).map_err(js_error)?;
    let result = async {
        let response = JsFuture::from(window.fetch_with_str_and_init(url, &init)).await.map_err(|e| {
            let message = js_error(e);
            if message.contains("abort") {
                format!("no answer within {timeout_ms} ms")
            } else {
                message
            }
        })?;
        let response: Response = response.dyn_into().map_err(js_error)?;
        let text = JsFuture::from(response.text().map_err(js_error)?).await.map_err(js_error)?.as_string().unwrap_or_default();
        if !response.ok() {
            return Err(format!("HTTP {}: {}", response.status(), text.chars().take(200).collect::<String>()));
        }
        Ok(text.into_bytes())
    }
    .await;
    window.clear_timeout_with_handle(timer);
    drop(abort);
    result
}
