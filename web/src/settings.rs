//! What the app is pointed at, from (strongest first) the page's URL (`?bundle=`, `?q=`,
//! `?backend=cpu`), the `data-` attributes of the element it mounts in (how the drop-in script
//! configures it: `data-bundle`, `data-api`, `data-app`), and the defaults fixed at build time
//! (`DOWSE_BUNDLE_URL`, `DOWSE_API_URL`).

use wasm_bindgen::JsValue;
use web_sys::{Element, UrlSearchParams};

use dowse_web::protocol::BackendChoice;

/// Where the bundle is when nothing else says: beside the app, as `dowse serve` hosts it.
const DEFAULT_BUNDLE: &str = match option_env!("DOWSE_BUNDLE_URL") {
    Some(url) => url,
    None => "bundle/",
};
/// Where the optional server's API is.
const DEFAULT_API: &str = match option_env!("DOWSE_API_URL") {
    Some(url) => url,
    None => "/api/",
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Absolute URL of the bundle folder, ending in `/`.
    pub bundle: String,
    /// Absolute URL of the server's API, ending in `/`.
    pub api: String,
    /// Absolute URL of the app's own folder (where the encoder's worker is), ending in `/`: the
    /// page's folder unless the drop-in script, loaded from elsewhere, says.
    pub app: String,
    /// The search to run once loaded.
    pub query: String,
    pub backend: BackendChoice,
}

impl Settings {
    pub fn read(mount: &Element) -> Self {
        let location = web_sys::window().map(|w| w.location());
        let page = location.as_ref().and_then(|l| l.href().ok()).unwrap_or_default();
        let params = location.and_then(|l| l.search().ok()).and_then(|s| UrlSearchParams::new_with_str(&s).ok());
        let param = |name: &str| params.as_ref().and_then(|p| p.get(name)).filter(|v| !v.is_empty());
        let attribute = |name: &str| mount.get_attribute(name).filter(|v| !v.is_empty());
        let bundle = param("bundle").or_else(|| attribute("data-bundle")).unwrap_or_else(|| DEFAULT_BUNDLE.to_string());
        let api = attribute("data-api").unwrap_or_else(|| DEFAULT_API.to_string());
        let app = attribute("data-app").unwrap_or_else(|| "./".to_string());
        let backend = if param("backend").as_deref() == Some("cpu") { BackendChoice::Cpu } else { BackendChoice::Auto };
        let (bundle, api, app) = (folder_url(&bundle, &page), folder_url(&api, &page), folder_url(&app, &page));
        Self { bundle, api, app, query: param("q").unwrap_or_default(), backend }
    }
}

/// `url` resolved against `base`, ending in `/`.
fn folder_url(url: &str, base: &str) -> String {
    let mut absolute = web_sys::Url::new_with_base(url, base).map(|u| u.href()).unwrap_or_else(|_| url.to_string());
    if !absolute.ends_with('/') {
        absolute.push('/');
    }
    absolute
}

/// Puts `query` in the page's URL (`?q=`) without reloading, so the address is a link to it.
pub fn share_query(query: &str) {
    let Some(window) = web_sys::window() else { return };
    let Ok(url) = window.location().href().and_then(|href| web_sys::Url::new(&href)) else { return };
    if query.is_empty() {
        url.search_params().delete("q");
    } else {
        url.search_params().set("q", query);
    }
    if let Ok(history) = window.history() {
        let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(&url.href()));
    }
}
