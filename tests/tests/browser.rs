//! The browser app end to end, as a visitor uses it: the built app (scripts/build-app.sh) and a
//! bundle of ADI (../shared/data, `dowse index`), hosted by `dowse serve` on 127.0.0.1; Debian's headless
//! Chromium (driven by tests/e2e/search.mjs through playwright-core) opens `?q=` with an ADI test
//! query. A document ADI judges relevant must be in the top 10, the backend label must show, and
//! a reload must come from the browser's cache. Both encoder paths run: WebGPU on Chromium's
//! software adapter (SwiftShader, `--enable-unsafe-webgpu`) and the CPU fallback where Chromium
//! has no adapter; the arrow keys walk the results and Escape clears them. A static site built
//! with `dowse index --with-app` (the app the binary carries, where it carries one) works from a
//! plain static server, on a phone-sized page too. A
//! missing, corrupt or incompatible bundle gets a message that says which and why, a query
//! encoder that cannot load leaves keyword search working, and a reranker that fails leaves the
//! client's order in place, saying so. Bundles built with a DSSM
//! and a two-tower LSTM that `dowse train` taught encode queries in the browser as `dowse search` does.
//! Screenshots go to Cargo's test folder.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};

use dowse_tests::{data, dowse_bin, make_test_cross_encoder, minilm_dir, scifact_slice, start_serve};
use serde_json::{json, Value};

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn scratch() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser")
}

/// One Chromium at a time: two WebAssembly apps encoding at once on two cores time each other out.
static BROWSER: Mutex<()> = Mutex::new(());

fn run(command: &mut Command) {
    let status = command.status().unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(status.success(), "{command:?} failed: {status}");
}

/// The built app as a folder, once per test binary: the app the trainer carries where it carries
/// one (CI builds it first, scripts/build-app.sh), else built here by that script.
fn dist() -> &'static Path {
    static DIST: OnceLock<PathBuf> = OnceLock::new();
    DIST.get_or_init(|| {
        let dist = scratch().join("dist");
        if dowse_trainer::app_inside::FILES.is_empty() {
            run(Command::new("bash").current_dir(workspace()).arg("scripts/build-app.sh").arg(&dist));
        } else {
            std::fs::create_dir_all(&dist).unwrap();
            for (name, bytes) in dowse_trainer::app_inside::FILES {
                std::fs::write(dist.join(name), bytes).unwrap();
            }
        }
        dist
    })
}

/// ADI's bundle, once per test binary.
fn adi_bundle() -> &'static Path {
    static BUNDLE: OnceLock<PathBuf> = OnceLock::new();
    BUNDLE.get_or_init(|| {
        let out = scratch().join("adi-bundle");
        run(Command::new(dowse_bin()).arg("index").arg("--input").arg(data("adi")).arg("--model").arg(minilm_dir()).arg("--out").arg(&out));
        out
    })
}

/// ADI's bundle as `dowse index` builds it by default (MiniLM's passage vectors, the shipped
/// static query encoder; ADI is too small to adapt to), once per test binary.
fn adi_default_bundle() -> &'static Path {
    static BUNDLE: OnceLock<PathBuf> = OnceLock::new();
    BUNDLE.get_or_init(|| {
        let out = scratch().join("adi-default-bundle");
        run(Command::new(dowse_bin()).arg("index").arg("--input").arg(data("adi")).arg("--out").arg(&out));
        out
    })
}

/// The test cross-encoder, once per test binary.
fn reranker() -> &'static Path {
    static RERANKER: OnceLock<PathBuf> = OnceLock::new();
    RERANKER.get_or_init(|| {
        let out = scratch().join("test-cross-encoder");
        make_test_cross_encoder(&minilm_dir(), &out);
        out
    })
}

/// ADI's first test query and the documents judged relevant to it.
fn adi_query() -> (String, Vec<String>) {
    let collection = dowse_trainer::collection::load(&data("adi"), "test").unwrap();
    let query = &collection.queries[0];
    let relevant = collection.qrels[&query.id].iter().filter(|(_, &grade)| grade > 0).map(|(doc, _)| doc.clone()).collect();
    // One line, as a person types it (an input field drops SMART's line breaks).
    (query.text.split_whitespace().collect::<Vec<_>>().join(" "), relevant)
}

/// A child process killed when dropped, and the URL it serves.
struct Served {
    child: Child,
    url: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Two-tower models `dowse train` taught on a slice of SciFact, and ADI's bundle built with each,
/// once per test binary: a DSSM (up to 256 words a text, so each of ADI's documents is one
/// passage) and an LSTM over MiniLM's word pieces.
fn adi_two_tower_bundles() -> &'static [PathBuf; 2] {
    static BUNDLES: OnceLock<[PathBuf; 2]> = OnceLock::new();
    BUNDLES.get_or_init(|| {
        let root = scratch().join("two-tower");
        let _ = std::fs::remove_dir_all(&root);
        let slice = root.join("scifact-slice");
        scifact_slice(&slice, "train", 200, 300);
        let train = "[train]\nseed = 7\nepochs = 2\nbatch_size = 32\nlearning_rate = 0.002\nvalidation_fraction = 0.2\n\n";
        let models = [
            ("dssm", "[model]\nvocab_size = 5000\nhidden_size = 64\ndim = 32\nmax_words = 256\n"),
            ("two-tower", "[model]\nhidden_size = 64\ndim = 32\nmax_len = 64\n"),
        ];
        models.map(|(kind, model_config)| {
            let (config, model, bundle) = (root.join(format!("{kind}.toml")), root.join(kind), root.join(format!("{kind}-bundle")));
            std::fs::write(&config, format!("{train}{model_config}")).unwrap();
            let mut command = Command::new(dowse_bin());
            command.args(["train", kind, "--data"]).arg(&slice).arg("--out").arg(&model).arg("--config").arg(&config);
            if kind == "two-tower" {
                command.arg("--base").arg(minilm_dir());
            }
            run(&mut command);
            run(Command::new(dowse_bin())
                .arg("index")
                .arg("--input")
                .arg(data("adi"))
                .arg("--model")
                .arg(&model)
                .arg("--out")
                .arg(&bundle));
            bundle
        })
    })
}

fn dowse_serve(bundle: &Path, extra: &[&str]) -> Served {
    let mut args = vec!["--bundle".into(), bundle.as_os_str().to_owned(), "--dist".into(), dist().as_os_str().to_owned()];
    args.extend(["--addr", "127.0.0.1:0"].iter().chain(extra).map(std::ffi::OsString::from));
    let (child, base) = start_serve(&dowse_bin(), args);
    Served { child, url: format!("{base}/") }
}

/// Python's plain static file server over `root`: no API, as on any static host.
fn static_server(root: &Path) -> Served {
    listening(|port| {
        let mut command = Command::new("python3");
        command.args(["-m", "http.server", "--bind", "127.0.0.1", &port.to_string()]).current_dir(root);
        command
    })
}

/// The server `command` starts on a free port, once it listens there (at most 5 s).
fn listening(command: impl FnOnce(u16) -> Command) -> Served {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = command(port).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Served { child, url: format!("http://127.0.0.1:{port}/") }
}

/// Runs tests/e2e/search.mjs with `options` and returns its report.
fn drive(options: Value) -> Value {
    drive_with("search.mjs", options)
}

/// Runs the browser script `script` (in tests/e2e) with `options` and returns its report.
fn drive_with(script: &str, options: Value) -> Value {
    let _one_at_a_time = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let e2e = workspace().join("tests/e2e");
    assert!(e2e.join("node_modules/playwright-core").is_dir(), "run `npm ci` in {} first", e2e.display());
    let output = Command::new("node").current_dir(&e2e).arg(script).arg(options.to_string()).output().unwrap();
    assert!(output.status.success(), "the browser run failed:\n{}", String::from_utf8_lossy(&output.stderr));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    eprintln!("{}", serde_json::to_string_pretty(&report).unwrap());
    report
}

fn doc_ids(report: &Value, key: &str) -> Vec<String> {
    report[key].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
}

/// The assertions every run shares: relevant document found, the map drawn, a reload from cache.
fn check_search(report: &Value, relevant: &[String]) {
    let results = doc_ids(report, "results");
    assert!(results.iter().any(|id| relevant.contains(id)), "none of {relevant:?} in the top 10 {results:?}");
    check_page(report);
}

/// Ten results, the map drawn, the query tokenized and encoded, a reload from cache.
/// The encode time is only checked to be reported: the static encoder takes less than the
/// browser's 0.1 ms timer resolution, so a zero is an honest reading.
fn check_page(report: &Value) {
    assert_eq!(doc_ids(report, "results").len(), 10);
    assert_eq!(report["map_drawn"], true);
    assert!(report["first_latency"]["tokens"].as_u64().unwrap() > 0, "the query was not tokenized");
    assert!(report["first_latency"]["encode"].as_f64().unwrap() >= 0.0);
    let (cold, warm) = (report["cold_bytes"].as_f64().unwrap(), report["warm_bytes"].as_f64().unwrap());
    assert!(warm < cold / 100.0, "a reload transferred {warm} bytes of {cold}: the bundle should come from the Cache API");
}

#[test]
fn searches_adi_on_webgpu_in_chromium() {
    let (query, relevant) = adi_query();
    let server = dowse_serve(adi_bundle(), &[]);
    let screenshot = scratch().join("webgpu.png");
    let report =
        drive(json!({"url": server.url, "query": query, "webgpu": true, "screenshot": screenshot, "keyboard": true, "resources": true}));
    assert_eq!(report["backend"], "WebGPU", "Chromium's SwiftShader adapter should run the encoder");
    check_search(&report, &relevant);
    // `dowse serve` sends Brotli where the browser takes it, a module's as its copy at quality 11
    // (`_bg.wasm.br`): the page takes the module itself, in the copy's bytes.
    let module = page_module(&report);
    assert!(module.0.ends_with("_bg.wasm"), "{module:?}");
    let brotli = std::fs::metadata(dist().join(format!("{}.br", module.0.rsplit('/').next().unwrap()))).unwrap().len();
    assert_eq!(module.1, brotli, "the page's module came as its Brotli copy, byte for byte");
    assert_eq!(report["rerank_toggle"], false, "no reranker on the server, no toggle");
    assert!(screenshot.is_file());
    // The arrows walk the results from the box and back; Escape clears the search.
    let keys = &report["keyboard"];
    assert_eq!(keys["first"], report["results"][0], "{keys}");
    assert_eq!(keys["second"], report["results"][1], "{keys}");
    assert_eq!(keys["back_in_box"], true, "{keys}");
    assert_eq!(keys["cleared"], true, "{keys}");
    assert_eq!(keys["focus_in_box"], true, "{keys}");
    assert_eq!(keys["labels"], json!({"box": "Search this site", "mode": "Search mode", "results": "Results", "search_role": true}));
}

#[test]
fn falls_back_to_the_cpu_without_an_adapter_and_reranks_through_the_server() {
    let (query, relevant) = adi_query();
    let server = dowse_serve(adi_bundle(), &["--reranker", &reranker().display().to_string()]);
    let screenshot = scratch().join("cpu.png");
    // Typed into the search box, the last one ADI's query again: it must find the same documents.
    let queries = ["automatic indexing", "the use of computers in libraries", query.as_str()];
    let report = drive(json!({"url": server.url, "query": query, "webgpu": false, "screenshot": screenshot,
                              "queries": queries, "rerank": true}));
    assert_eq!(report["backend"], "CPU");
    assert!(
        report["backend_line"].as_str().unwrap().contains("no WebGPU adapter")
            || report["backend_line"].as_str().unwrap().contains("no WebGPU")
    );
    check_search(&report, &relevant);
    let typed = report["timings"].as_array().unwrap();
    assert_eq!(typed.len(), queries.len());
    assert_eq!(typed[2]["results"], report["results"], "typing the query finds what the link found");
    assert!(report["rerank_line"].as_str().unwrap().contains("reranked by test-cross-encoder"), "{}", report["rerank_line"]);
}

#[test]
fn every_query_encoder_kind_encodes_in_the_browser_as_dowse_search_does() {
    let (query, _) = adi_query();
    // The DSSM on WebGPU, the LSTM on the CPU fallback, and the default bundle's static encoder
    // with and without an adapter: it runs in the small worker on the CPU either way (a mean of
    // table rows needs no GPU), its table's rows fetched per query.
    let [dssm, lstm] = adi_two_tower_bundles();
    let default = adi_default_bundle().to_path_buf();
    for (bundle, webgpu) in [(dssm, true), (lstm, false), (&default, true), (&default, false)] {
        let server = dowse_serve(bundle, &[]);
        let screenshot = scratch().join(format!("{}.png", bundle.file_name().unwrap().to_string_lossy()));
        let report = drive(json!({"url": server.url, "query": query, "webgpu": webgpu, "screenshot": screenshot}));
        let on_static = bundle == &default;
        assert_eq!(report["backend"], if webgpu && !on_static { "WebGPU" } else { "CPU" }, "{}", bundle.display());
        check_page(&report);
        assert!(report["first_latency"]["tokens"].as_u64().unwrap() > 0, "the query was read");
        // The browser's query tower ranks what the native one ranks: the same ten documents.
        let output =
            Command::new(dowse_bin()).args(["search", "--json", "--k", "10", "--bundle"]).arg(bundle).arg(&query).output().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let native: Value = serde_json::from_slice(&output.stdout).unwrap();
        let mut native: Vec<&str> = native["results"].as_array().unwrap().iter().map(|r| r["doc_id"].as_str().unwrap()).collect();
        let mut browser = doc_ids(&report, "results");
        native.sort_unstable();
        browser.sort_unstable();
        assert_eq!(browser, native, "{}", bundle.display());
    }
}

#[test]
fn a_static_site_gets_search_from_one_div_and_one_script() {
    let site = scratch().join("site");
    let _ = std::fs::remove_dir_all(&site);
    std::fs::create_dir_all(site.join("notes")).unwrap();
    // The search is on a page below the site's root: result links and images must still reach
    // the pages they name (relative to the root, not to this page).
    std::fs::write(
        site.join("notes/index.html"),
        "<!doctype html><html><head><meta charset=utf-8><title>Notes</title></head><body><main><h1>Notes</h1>\
         <p>Plain pages about caring for a garden.</p><div id=\"dowse\"></div>\
         <script type=\"module\" src=\"/_dowse/dowse.js\"></script></main></body></html>",
    )
    .unwrap();
    std::fs::write(
        site.join("tomatoes.html"),
        "<html><head><title>Growing tomatoes</title></head><body><main><h1>Growing tomatoes</h1>\
         <meta data-dowse-filter=\"tag:vegetables, season:summer\">\
         <h2 id=\"water\">Watering</h2><p>Tomato plants want deep watering twice a week, at the roots, in the morning.</p>\
         <h2 id=\"sun\">Sunlight</h2><p>Give them at least eight hours of direct sun.</p></main></body></html>",
    )
    .unwrap();
    std::fs::write(
        site.join("roses.html"),
        "<html><head><title>Pruning roses</title></head><body><main><h1>Pruning roses</h1>\
         <meta data-dowse-filter=\"tag:flowers, season:winter\">\
         <img src=\"roses.png\" alt=\"A pruned rose\" data-dowse-meta=\"image[src], image_alt[alt]\">\
         <p>By <span data-dowse-meta=\"author\">Ada</span>, <time data-dowse-meta=\"date\">2026-03-01</time>.</p>\
         <p>Cut back dead canes in late winter, just above an outward-facing bud.</p></main></body></html>",
    )
    .unwrap();
    // data-dowse-weight: "compost" once at weight 10 outranks it twice at weight 1 (unweighted,
    // the shorter page with one would rank below); a word at weight 0 is not indexed for BM25.
    std::fs::write(
        site.join("soil.html"),
        "<html><head><title>Soil care</title></head><body><main><p>Feed the soil every spring.</p>\
         <meta data-dowse-filter=\"tag:&lt;b&gt;care&lt;/b&gt;\">\
         <p data-dowse-weight=\"10\">Compost</p><p data-dowse-weight=\"0\">Sponsored: mulch deals</p></main></body></html>",
    )
    .unwrap();
    std::fs::write(
        site.join("scraps.html"),
        "<html><head><title>Kitchen scraps</title></head><body><main><p>Vegetable peelings can go to compost, and \
         compost bins keep them tidy; the remaining scraps go to the bin.</p></main></body></html>",
    )
    .unwrap();
    // A 1x1 PNG, so the result's image loads.
    let png = [
        137u8, 80, 78, 71, 13, 10, 26, 10, 0, 0, 0, 13, 73, 72, 68, 82, 0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 31, 21, 196, 137, 0, 0, 0,
        13, 73, 68, 65, 84, 120, 156, 99, 248, 207, 192, 240, 31, 0, 5, 0, 1, 255, 137, 153, 61, 29, 0, 0, 0, 0, 73, 69, 78, 68, 174, 66,
        96, 130,
    ];
    std::fs::write(site.join("roses.png"), png).unwrap();
    let mut index = Command::new(dowse_bin());
    index.arg("index").arg("--input").arg(&site).arg("--model").arg(minilm_dir()).arg("--out").arg(site.join("_dowse")).arg("--with-app");
    // The app the binary carries where it carries one (scripts/build-app.sh, as CI builds it): the
    // site then needs nothing but `dowse`. Else the app built for these tests.
    if dowse_trainer::app_inside::FILES.is_empty() {
        index.arg(dist());
    }
    run(&mut index);
    // A page that draws its own results through the JavaScript API (written after indexing,
    // so that it is not a result itself).
    std::fs::write(site.join("api.html"), API_PAGE).unwrap();
    let server = static_server(&site);
    // On a phone-sized page: nothing wider than the screen. Then keyword search as a visitor
    // types: an unfinished last word matches the words it begins ("prun", in no page, finds
    // "pruning"; a finished word matches only itself, dowse-core's tests).
    let report = drive(json!({"url": format!("{}notes/", server.url), "query": "how often should I water my plants", "webgpu": false,
                              "screenshot": scratch().join("static-site-phone.png"), "viewport": {"width": 390, "height": 844},
                              "facet": {"key": "season", "value": "winter"},
                              "typed_mode": "bm25", "queries": ["prun"]}));
    let titles: Vec<&str> = report["titles"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    assert!(titles[0].starts_with("Growing tomatoes › Watering"), "{titles:?}");
    assert_eq!(report["overflows"], false, "the page is wider than a 390 px phone");
    assert_eq!(report["rerank_toggle"], false, "a static host has no rerank API");
    // Filters: every value with how many of the results carry it, markup shown as text; checking
    // one keeps only the pages that carry it.
    let facets = &report["facets"];
    assert_eq!(facets["groups"]["season"], json!([["summer", 1], ["winter", 1]]), "{report}");
    assert_eq!(facets["groups"]["tag"], json!([["<b>care</b>", 1], ["flowers", 1], ["vegetables", 1]]), "{report}");
    assert_eq!(facets["markup"], false, "a filter value's markup was rendered");
    let filtered: Vec<&str> = facets["titles"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    assert!(!filtered.is_empty() && filtered.iter().all(|t| t.starts_with("Pruning roses")), "{filtered:?}");
    let typed =
        |i: usize| report["timings"][i]["titles"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_string()).collect::<Vec<_>>();
    assert_eq!(report["timings"][0]["mode"], "bm25", "{report}");
    assert_eq!(typed(0).first().map(|t| t.starts_with("Pruning roses")), Some(true), "\"prun\" while typing: {:?}", typed(0));
    // The page's data-dowse-meta fields come back with the result.
    let image = format!("{}roses.png", server.url);
    assert_eq!(
        report["timings"][0]["meta"][0],
        json!({"image": image, "alt": "A pruned rose", "fields": [["author", "Ada"], ["date", "2026-03-01"]]}),
        "{report}"
    );

    let api = drive_with("api.mjs", json!({"url": format!("{}api.html", server.url)}));
    assert_eq!(api["error"], Value::Null, "{api}");
    assert_eq!(api["mounted"], false, "a page without <div id=\"dowse\"> gets no UI");
    let first = |answer: &str| api[answer]["results"][0].clone();
    assert_eq!(api["keyword"]["mode"], "bm25");
    assert_eq!(first("keyword")["url"], format!("{}tomatoes.html#water", server.url));
    assert_eq!((first("keyword")["title"].as_str(), first("keyword")["heading"].as_str()), (Some("Growing tomatoes"), Some("Watering")));
    assert!(first("keyword")["excerpt"].as_str().unwrap().contains("<mark>watering</mark>"), "{api}");
    // A semantic search waits for the query encoder and answers in the mode asked for.
    assert_eq!(api["hybrid"]["mode"], "hybrid");
    assert_eq!(first("hybrid")["url"], format!("{}tomatoes.html#water", server.url));
    assert_eq!((api["once"]["mode"].as_str(), first("once")["url"].clone()), (Some("hybrid"), first("hybrid")["url"].clone()), "{api}");
    assert_eq!(api["typed"]["results"].as_array().unwrap().len(), 1, "{api}");
    assert_eq!(first("typed")["title"], "Pruning roses");
    assert_eq!(first("typed")["meta"], json!({"image": image, "image_alt": "A pruned rose", "author": "Ada", "date": "2026-03-01"}));
    assert_eq!(api["empty"]["results"], json!([]));
    assert_eq!(api["filtered"]["results"].as_array().unwrap().iter().map(|r| r["title"].clone()).collect::<Vec<_>>(), ["Pruning roses"]);
    assert_eq!(api["filtered"]["filters"]["season"], json!([{"value": "summer", "count": 0}, {"value": "winter", "count": 1}]));
    let mut either: Vec<String> =
        api["either"]["results"].as_array().unwrap().iter().map(|r| r["title"].as_str().unwrap().to_string()).collect();
    either.sort();
    assert_eq!(either, ["Growing tomatoes", "Pruning roses"], "{api}");
    assert_eq!(
        api["totals"]["tag"],
        json!([{"value": "<b>care</b>", "count": 1}, {"value": "flowers", "count": 1}, {"value": "vegetables", "count": 1}])
    );
    let titles = |answer: &str| api[answer]["results"].as_array().unwrap().iter().map(|r| r["title"].clone()).collect::<Vec<_>>();
    assert_eq!(titles("weighted"), ["Soil care", "Kitchen scraps"], "{api}");
    assert_eq!(titles("hidden"), Vec::<Value>::new(), "{api}");
    for (call, message) in [
        ("unknown", "dowse.search: bad options: unknown field `colour`, expected one of `mode`, `k`, `prefix`, `filters`, `feedback`"),
        ("mode", "dowse.search: bad options: unknown variant `fast`, expected one of `hybrid`, `dense`, `bm25`"),
        ("k", "dowse.search: bad options: `k` must be between 1 and 100, not 0"),
        ("feedback", "dowse.search: bad options: `feedback` must be between 0 and 100, not 101"),
        ("query", "dowse.search: the query must be a string"),
        ("options", "dowse.search: the options must be an object, e.g. { mode: \"bm25\", k: 10 }"),
        ("filter", "dowse.search: bad options: invalid type: integer `3`, expected a filter's value: a string or a list of strings"),
    ] {
        assert_eq!(api[call], message, "{api}");
    }
}

/// A page of the static site that searches through `dowse.search` and writes what it got.
const API_PAGE: &str = r#"<!doctype html><html><head><meta charset=utf-8><title>Own results</title></head><body>
<script type="module">
import * as dowse from "/_dowse/dowse.js";
const out = {};
try {
  out.keyword = await dowse.search("watering", { mode: "bm25" });
  out.hybrid = await dowse.search("how often should I water my plants");
  out.once = await dowse.search("how often should I water my plants", { feedback: 0 });
  out.typed = await dowse.search("prun", { mode: "bm25", prefix: true, k: 1 });
  out.empty = await dowse.search("  ");
  out.weighted = await dowse.search("compost", { mode: "bm25", k: 2 });
  out.hidden = await dowse.search("mulch", { mode: "bm25" });
  out.filtered = await dowse.search("how often should I water my plants", { filters: { season: "winter" } });
  out.either = await dowse.search("plants", { mode: "dense", filters: { tag: ["flowers", "vegetables"] } });
  out.totals = await dowse.filters();
  const calls = { unknown: ["x", { colour: "red" }], mode: ["x", { mode: "fast" }], k: ["x", { k: 0 }], feedback: ["x", { feedback: 101 }], query: [42], options: ["x", "bm25"], filter: ["x", { filters: { tag: 3 } }] };
  for (const [name, args] of Object.entries(calls)) {
    out[name] = await dowse.search(...args).then(() => "resolved", (e) => e.message);
  }
  out.mounted = document.querySelector(".dowse") !== null;
} catch (e) {
  out.error = e.message;
}
document.body.dataset.result = JSON.stringify(out);
</script></body></html>
"#;

#[test]
fn missing_corrupt_and_incompatible_bundles_get_clear_messages() {
    let root = scratch().join("bad-bundles");
    let _ = std::fs::remove_dir_all(&root);
    copy_dir(dist(), &root.join("app"));
    copy_dir(adi_bundle(), &root.join("corrupt"));
    let manifest: Value = serde_json::from_slice(&std::fs::read(root.join("corrupt/manifest.json")).unwrap()).unwrap();
    let root_name = manifest["fragments"]["root"].as_str().unwrap().to_string();
    let root_file = root.join("corrupt/fragments").join(&root_name);
    let mut bytes = std::fs::read(&root_file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(&root_file, bytes).unwrap();
    copy_dir(adi_bundle(), &root.join("older"));
    let manifest = root.join("older/manifest.json");
    let mut json: Value = serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
    json["format_version"] = 1.into();
    std::fs::write(&manifest, serde_json::to_vec(&json).unwrap()).unwrap();
    copy_dir(adi_bundle(), &root.join("newer"));
    let manifest = root.join("newer/manifest.json");
    let mut json: Value = serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
    json["format_version"] = 99.into();
    std::fs::write(&manifest, serde_json::to_vec(&json).unwrap()).unwrap();
    let server = static_server(&root);

    let corrupt = format!("fragments/{root_name}: its bytes do not hash to its name");
    let cases = [
        ("../missing/", "no bundle could be read"),
        ("../corrupt/", corrupt.as_str()),
        ("../newer/", "bundle format version 99 is newer than this build reads"),
        ("../older/", "bundle format version 1 is no longer read"),
    ];
    for (bundle, expected) in cases {
        let url = format!("{}app/?bundle={bundle}", server.url);
        let report = drive(json!({"url": url, "query": "indexing", "expect_error": true}));
        let error = report["error"].as_str().unwrap();
        assert!(error.contains(expected), "{bundle}: {error}");
    }
}

#[test]
fn keyword_search_goes_on_when_the_query_encoder_cannot_load() {
    let root = scratch().join("no-encoder");
    let _ = std::fs::remove_dir_all(&root);
    copy_dir(dist(), &root.join("app"));
    // Both copies: Python's server compresses nothing, so the worker would take the deflated one.
    std::fs::remove_file(root.join("app/dowse-encoder_bg.wasm")).unwrap();
    std::fs::remove_file(root.join("app/dowse-encoder_bg.deflate")).unwrap();
    copy_dir(adi_bundle(), &root.join("bundle"));
    let server = static_server(&root);
    let report = drive(json!({"url": format!("{}app/?bundle=../bundle/", server.url), "query": "indexing", "expect_semantic_error": true}));
    assert_eq!(report["first_results"]["mode"], "bm25", "{report}");
    assert!(!report["results"].as_array().unwrap().is_empty(), "{report}");
    let error = report["error"].as_str().unwrap();
    assert!(error.starts_with("Keyword results only:") && error.contains("worker"), "{error}");
}

#[test]
fn each_host_gets_the_modules_and_the_tokenizer_as_it_compresses_best() {
    // Where the host sends nothing compressed or gzip, the page and the encoder's worker must take
    // the modules' deflated copies and the tokenizer's: the plain files are gone, so taking any
    // other fails the search. Where it sends Brotli, the files themselves: the copies are gone.
    let (query, relevant) = adi_query();
    let manifest: Value = serde_json::from_slice(&std::fs::read(adi_default_bundle().join("manifest.json")).unwrap()).unwrap();
    let tokenizer = manifest["files"].as_array().unwrap().iter().find(|f| f["path"] == "model/tokenizer.json").unwrap();
    let tokenizer_copy = format!("fragments/{}", tokenizer["fragment"].as_str().unwrap());
    for (encoding, takes) in [("identity", "_bg.deflate"), ("gzip", "_bg.deflate"), ("br", "_bg.wasm")] {
        let root = scratch().join(format!("host-{encoding}"));
        let _ = std::fs::remove_dir_all(&root);
        copy_dir(dist(), &root.join("app"));
        copy_dir(adi_default_bundle(), &root.join("bundle"));
        let gone = if takes == "_bg.wasm" { "_bg.deflate" } else { "_bg.wasm" };
        for entry in std::fs::read_dir(root.join("app")).unwrap() {
            let path = entry.unwrap().path();
            if path.to_string_lossy().ends_with(gone) {
                std::fs::remove_file(path).unwrap();
            }
        }
        let tokenizer_gone = if takes == "_bg.wasm" { tokenizer_copy.as_str() } else { "model/tokenizer.json" };
        std::fs::remove_file(root.join("bundle").join(tokenizer_gone)).unwrap();
        let server = host(&root.join("app"), &root.join("bundle"), encoding);
        let report = drive(json!({"url": server.url, "query": query, "webgpu": false, "resources": true}));
        check_search(&report, &relevant);
        let module = page_module(&report);
        assert!(module.0.ends_with(takes), "{encoding}: {module:?}");
        if takes == "_bg.deflate" {
            let deflated = std::fs::metadata(dist().join(module.0.rsplit('/').next().unwrap())).unwrap().len();
            assert_eq!(module.1, deflated, "{encoding}: the page's module came as its deflated copy, byte for byte");
        }
    }
}

/// tests/e2e/h2-serve.mjs over HTTP/1.1: the app's folder at /, the bundle at /bundle/, each file
/// compressed by `encoding` (identity, gzip or br), as a static host sends it.
fn host(app: &Path, bundle: &Path, encoding: &str) -> Served {
    listening(|port| {
        let mut command = Command::new("node");
        command.arg(workspace().join("tests/e2e/h2-serve.mjs")).args([app.as_os_str(), bundle.as_os_str()]);
        command.args(["-", "-", &port.to_string(), encoding]);
        command
    })
}

/// The page's wasm module as it came over the network: its URL and how many bytes its body had.
fn page_module(report: &Value) -> (String, u64) {
    let resources = report["cold_resources"].as_array().unwrap();
    let modules: Vec<(String, u64)> = resources
        .iter()
        .map(|r| (r["name"].as_str().unwrap().to_string(), r["encoded"].as_u64().unwrap()))
        .filter(|(name, _)| name.contains("/dowse-web-") && name.contains("_bg."))
        .collect();
    assert_eq!(modules.len(), 1, "{modules:?}");
    modules[0].clone()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn a_failing_reranker_leaves_the_client_order_and_says_so() {
    let (query, _) = adi_query();
    // Reranking 30 passages on this CPU takes seconds: a 300 ms limit makes the server answer 504.
    let config = scratch().join("impatient.toml");
    std::fs::write(&config, format!("bundle = {:?}\n[limits]\nrequest_timeout_ms = 300\n", adi_bundle().display().to_string())).unwrap();
    let server = dowse_serve(adi_bundle(), &["--reranker", &reranker().display().to_string(), "--config", &config.display().to_string()]);
    let report = drive(json!({"url": server.url, "query": query, "webgpu": false, "rerank": true}));
    let line = report["rerank_line"].as_str().unwrap();
    assert!(line.contains("rerank failed") && line.contains("client order shown"), "{line}");
    assert_eq!(doc_ids(&report, "reranked_results"), doc_ids(&report, "results"), "the client's order stays");
}
