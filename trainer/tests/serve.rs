//! `dowse serve` on 127.0.0.1 over a real bundle (ADI, indexed with `dowse index`'s default:
//! passages by all-MiniLM-L6-v2, queries by the static encoder that ships inside dowse, written
//! into an otherwise empty `$DOWSE_HOME`) with a cross-encoder the test makes (all-MiniLM-L6-v2's encoder and pooler with a
//! freshly initialised one-label head: a trained reranker is 90 MB, too large for the
//! repository): search and rerank end to end, the API contract, bad input, path traversal, the
//! concurrency limit, the timeout, a graceful shutdown, the web app's cache headers, CORS,
//! and a bounded load test.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::OnceLock;
use std::time::Duration;

use dowse_tests::{data, make_test_cross_encoder, minilm_dir, start_serve, stop_serve};
use serde_json::{json, Value};

/// The ADI bundle and the test cross-encoder, made once per test binary in Cargo's test folder.
struct Fixtures {
    bundle: PathBuf,
    reranker: PathBuf,
}

fn fixtures() -> &'static Fixtures {
    static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("serve-fixtures");
        let bundle = dir.join("adi");
        let home = dir.join("empty-home");
        std::fs::remove_dir_all(&home).ok();
        // The default bundle: passages by all-MiniLM-L6-v2 (copied into the empty home as `dowse
        // model fetch --from` does), queries by the static encoder built into the binary.
        let dowse = |args: &[&str]| Command::new(env!("CARGO_BIN_EXE_dowse")).args(args).env("DOWSE_HOME", &home).status().unwrap();
        assert!(dowse(&["model", "fetch", "--from", &minilm_dir().display().to_string()]).success());
        assert!(dowse(&["index", "--input", &data("adi").display().to_string(), "--out", &bundle.display().to_string()]).success());
        let manifest: Value = serde_json::from_slice(&std::fs::read(bundle.join("manifest.json")).unwrap()).unwrap();
        assert_eq!(manifest["model"]["id"], "dowse/dowse-query-static-minilm-l6-v1");
        assert_eq!(manifest["passage_model"]["id"], "all-MiniLM-L6-v2");
        let query = std::fs::read(home.join("models/dowse-query-static-minilm-l6-v1/model.safetensors")).unwrap();
        let shipped = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/query/model.safetensors")).unwrap();
        assert!(query == shipped, "the binary's query encoder is models/query");
        let reranker = dir.join("test-cross-encoder");
        make_test_cross_encoder(&minilm_dir(), &reranker);
        Fixtures { bundle, reranker }
    })
}

/// A running `dowse serve`, stopped (SIGTERM) when dropped.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(extra: &[&str]) -> Self {
        let bundle = &fixtures().bundle;
        let bundle = bundle.display().to_string();
        let args = ["--bundle", bundle.as_str(), "--addr", "127.0.0.1:0"].into_iter().chain(extra.iter().copied());
        let (child, base) = start_serve(Path::new(env!("CARGO_BIN_EXE_dowse")), args);
        Self { child, base }
    }

    fn with_reranker(extra: &[&str]) -> Self {
        let reranker = fixtures().reranker.display().to_string();
        let mut args = vec!["--reranker", reranker.as_str()];
        args.extend(extra);
        Self::start(&args)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// POSTs JSON and returns the status and the JSON body, whatever the status.
    fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        answer(ureq::post(&self.url(path)).send_json(body.clone()))
    }

    fn get(&self, path: &str) -> (u16, String) {
        match ureq::get(&self.url(path)).call() {
            Ok(r) => (r.status(), r.into_string().unwrap()),
            Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap()),
            Err(e) => panic!("{e}"),
        }
    }

    fn stop(mut self) -> std::process::ExitStatus {
        stop_serve(&mut self.child).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let stopped = stop_serve(&mut self.child);
            if !std::thread::panicking() {
                stopped.unwrap();
            }
        }
    }
}

fn answer(result: Result<ureq::Response, ureq::Error>) -> (u16, Value) {
    let response = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{e}"),
    };
    (response.status(), response.into_json().unwrap_or(Value::Null))
}

#[test]
fn health_search_and_rerank_follow_the_contract() {
    let server = Server::with_reranker(&[]);
    let (status, health) = server.get("/api/health");
    assert_eq!(status, 200);
    let health: Value = serde_json::from_str(&health).unwrap();
    assert_eq!(health["rerank"], json!({"available": true, "model": "test-cross-encoder"}));
    assert_eq!(health["bundle"]["documents"], 82);
    assert_eq!(health["bundle"]["id"].as_str().unwrap().len(), 16);

    for mode in ["hybrid", "dense", "bm25"] {
        let (status, body) = server.post("/api/search", &json!({"query": "computer based indexing of documents", "k": 5, "mode": mode}));
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["query"], "computer based indexing of documents");
        assert_eq!(body["reranked"], false);
        let results = body["results"].as_array().unwrap();
        assert_eq!(results.len(), 5);
        assert_eq!(body["total_results"], 5);
        for (i, r) in results.iter().enumerate() {
            assert_eq!(r["rank"], i + 1);
            assert!(r["doc_id"].is_string() && r["title"].is_string() && r["text"].is_string() && r["score"].is_number());
        }
        assert!(body["latency_ms"].as_f64().unwrap() > 0.0);
    }
    // A hybrid search answers alike in shape whether it feeds back (5) or ranks once (0).
    for feedback in [0, 5] {
        let (status, body) = server.post("/api/search", &json!({"query": "computer based indexing", "k": 5, "feedback": feedback}));
        assert_eq!((status, body["results"].as_array().map(Vec::len)), (200, Some(5)), "{body}");
    }
    // A collection without filters lets nothing through one.
    let (status, body) = server.post("/api/search", &json!({"query": "computer based indexing", "filters": {"kind": "guide"}}));
    assert_eq!((status, body["results"].as_array().map(Vec::len)), (200, Some(0)), "{body}");
    let (status, body) = server.post("/api/search", &json!({"query": "computer based indexing", "k": 3, "rerank": true}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["reranked"], true);
    let scores: Vec<f64> = body["results"].as_array().unwrap().iter().map(|r| r["score"].as_f64().unwrap()).collect();
    assert!(scores.len() == 3 && scores.windows(2).all(|w| w[0] >= w[1]), "{body}");

    let documents = json!([
        {"id": "a", "text": "Automatic indexing assigns terms to documents by computer."},
        {"id": "b", "text": "The recipe needs two eggs and flour."},
        {"id": "c", "text": "Citation indexes link papers to the papers that cite them."}
    ]);
    let (status, body) = server.post("/api/rerank", &json!({"query": "automatic indexing", "documents": documents, "top_k": 2}));
    assert_eq!(status, 200, "{body}");
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["rank"], 1);
    // The same pairs score the same alone, in another order, or batched with other requests.
    let scores = |body: &Value| -> Vec<(String, f64)> {
        let mut s: Vec<_> = body["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["id"].as_str().unwrap().to_string(), r["score"].as_f64().unwrap()))
            .collect();
        s.sort_by(|a, b| a.0.cmp(&b.0));
        s
    };
    let reversed: Vec<Value> = documents.as_array().unwrap().iter().rev().cloned().collect();
    let (_, all) = server.post("/api/rerank", &json!({"query": "automatic indexing", "documents": documents}));
    let (_, again) = server.post("/api/rerank", &json!({"query": "automatic indexing", "documents": reversed}));
    for ((id, x), (_, y)) in scores(&all).iter().zip(scores(&again)) {
        assert!((x - y).abs() < 1e-4, "{id}: {x} vs {y}");
    }
    let (status, metrics) = server.get("/metrics");
    assert_eq!(status, 200);
    assert!(metrics.contains("dowse_requests_total{route=\"/api/rerank\",status=\"200\"} 3"), "{metrics}");
    assert!(metrics.contains("dowse_request_seconds_bucket{route=\"/api/search\",le=\"+Inf\"} 7"), "{metrics}");
}

#[test]
fn bad_input_gets_4xx_with_a_json_error() {
    let server = Server::with_reranker(&[]);
    let cases = [
        (json!({"query": ""}), 400, "bad_request"),
        (json!({"query": "   "}), 400, "bad_request"),
        (json!({"query": "x".repeat(1001)}), 400, "bad_request"),
        (json!({"query": "ok", "k": 0}), 400, "bad_request"),
        (json!({"query": "ok", "k": 101}), 400, "bad_request"),
        (json!({"query": "ok", "feedback": 101}), 400, "bad_request"),
        (json!({"query": "ok", "feedback": -1}), 422, "invalid_json"),
        (json!({"query": 5}), 422, "invalid_json"),
        (json!({"query": "ok", "mode": "fuzzy"}), 422, "invalid_json"),
        (json!({"query": "ok", "unknown": 1}), 422, "invalid_json"),
        (json!({"query": "ok", "filters": {"kind": 3}}), 422, "invalid_json"),
        (json!(["not", "an", "object"]), 422, "invalid_json"),
    ];
    for (body, status, code) in cases {
        let (got, answer) = server.post("/api/search", &body);
        assert_eq!((got, answer["error"]["code"].as_str()), (status, Some(code)), "{body}: {answer}");
    }
    let too_many: Vec<Value> = (0..101).map(|i| json!({"id": i.to_string(), "text": "t"})).collect();
    for body in [
        json!({"query": "q", "documents": []}),
        json!({"query": "q", "documents": too_many}),
        json!({"query": "", "documents": [{"id": "a", "text": "t"}]}),
    ] {
        assert_eq!(server.post("/api/rerank", &body).0, 400);
    }
    let malformed = ureq::post(&server.url("/api/search")).set("content-type", "application/json").send_string("{\"query\": ");
    let (status, body) = answer(malformed);
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_json")));
    let (status, body) = answer(ureq::post(&server.url("/api/search")).set("content-type", "text/plain").send_string("{\"query\": \"x\"}"));
    assert_eq!((status, body["error"]["code"].as_str()), (415, Some("unsupported_media_type")));
    // The server answers as soon as it sees the length, so the body is announced, not sent.
    let head = format!("POST /api/rerank HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: {}", 2 << 20);
    let (status, response) = raw(&server.base, &head, b"{\"query\": \"q\"");
    assert_eq!(status, 413);
    assert!(response.contains("payload_too_large"), "{response}");

    let plain = Server::start(&[]);
    let (status, body) = plain.post("/api/rerank", &json!({"query": "q", "documents": [{"id": "a", "text": "t"}]}));
    assert_eq!((status, body["error"]["code"].as_str()), (503, Some("rerank_unavailable")));
    let (status, body) = plain.post("/api/search", &json!({"query": "q", "rerank": true}));
    assert_eq!(status, 503, "{body}");
}

#[test]
fn files_are_served_from_inside_the_bundle_only() {
    std::os::unix::fs::symlink("/etc/hostname", fixtures().bundle.join("outside")).ok();
    let server = Server::start(&[]);
    let manifest = ureq::get(&server.url("/bundle/manifest.json")).call().unwrap();
    assert_eq!(manifest.header("content-type"), Some("application/json"));
    assert_eq!(manifest.header("cache-control"), Some("no-cache"));
    let etag = manifest.header("etag").unwrap().to_string();
    let again = ureq::get(&server.url("/bundle/manifest.json")).set("if-none-match", &etag).call().unwrap();
    assert_eq!(again.status(), 304);
    let root: serde_json::Value = serde_json::from_str(&manifest.into_string().unwrap()).unwrap();
    let root = root["fragments"]["root"].as_str().unwrap().to_string();
    let (status, response) = raw(&server.base, &format!("GET /bundle/fragments/{root} HTTP/1.1\r\nAccept-Encoding: gzip"), b"");
    assert_eq!(status, 200);
    let headers = response[..response.find("\r\n\r\n").unwrap()].to_lowercase();
    assert!(!headers.contains("content-encoding"), "a fragment is stored deflated and served as it is: {headers}");
    assert!(headers.contains("cache-control: public, max-age=31536000, immutable"), "a fragment is named by its content: {headers}");
    let (_, response) = raw(&server.base, "GET /bundle/manifest.json HTTP/1.1\r\nAccept-Encoding: gzip", b"");
    let headers = response[..response.find("\r\n\r\n").unwrap()].to_lowercase();
    assert!(headers.contains("content-encoding: gzip"), "text is compressed on the way: {headers}");
    for path in [
        "/bundle/../Cargo.toml",
        "/bundle/%2e%2e/%2e%2e/etc/passwd",
        "/bundle/..%2f..%2fetc%2fpasswd",
        "/bundle//etc/passwd",
        "/bundle/outside",
    ] {
        // Raw requests: HTTP clients normalise `..` away before sending.
        let (status, _) = raw(&server.base, &format!("GET {path} HTTP/1.1"), b"");
        assert!(status == 404 || status == 400, "{path}: {status}");
    }
}

#[test]
fn the_web_app_is_served_with_cache_headers_and_cors_is_opt_in() {
    let dist = tempfile::tempdir().unwrap();
    std::fs::write(dist.path().join("index.html"), "<!doctype html><title>dowse</title>").unwrap();
    std::fs::write(dist.path().join("dowse-web-0123456789abcdef.js"), "export default 1;").unwrap();
    let server = Server::start(&["--dist", &dist.path().display().to_string(), "--cors-origin", "https://docs.example.org"]);
    let index = ureq::get(&server.url("/")).call().unwrap();
    assert_eq!(index.header("content-type"), Some("text/html"));
    assert_eq!(index.header("cache-control"), Some("no-cache"));
    let script = ureq::get(&server.url("/dowse-web-0123456789abcdef.js")).call().unwrap();
    assert_eq!(script.header("content-type"), Some("text/javascript"));
    assert_eq!(script.header("cache-control"), Some("public, max-age=31536000, immutable"));
    assert_eq!(server.get("/missing.js").0, 404);

    let preflight = |origin: &str| {
        let head = format!("OPTIONS /api/search HTTP/1.1\r\nOrigin: {origin}\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type");
        raw(&server.base, &head, b"").1.to_lowercase()
    };
    assert!(preflight("https://docs.example.org").contains("access-control-allow-origin: https://docs.example.org"));
    assert!(!preflight("https://elsewhere.example").contains("access-control-allow-origin"));
}

/// Without `--dist` the server hosts the app the binary carries (scripts/build-app.sh) where it
/// carries one, from nothing but the binary; else only the bundle and the API.
#[test]
fn without_dist_the_app_inside_the_binary_is_served() {
    let server = Server::start(&[]);
    let (status, page) = server.get("/");
    if dowse_trainer::app_inside::FILES.is_empty() {
        assert_eq!(status, 404, "no app to serve: {page}");
        return;
    }
    assert_eq!(status, 200);
    let script = page.split('"').find(|part| part.starts_with("./dowse-web-") && part.ends_with(".js")).expect("the page loads the app");
    let (status, _) = server.get(&format!("/{}", script.trim_start_matches("./")));
    assert_eq!(status, 200, "{script}");
    assert_eq!(server.get("/dowse-static_bg.wasm").0, 200);
}

/// Sends `head` (request line and headers) and `body` as they are; returns the status and the
/// whole response, headers included, as text.
fn raw(base: &str, head: &str, body: &[u8]) -> (u16, String) {
    use std::io::{Read, Write};
    let host = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    write!(stream, "{head}\r\nHost: {host}\r\nConnection: close\r\n\r\n").unwrap();
    let _ = stream.write_all(body);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response).into_owned();
    (response.split_whitespace().nth(1).unwrap().parse().unwrap(), response)
}

#[test]
fn overload_timeout_and_graceful_shutdown() {
    let long_documents: Vec<Value> =
        (0..100).map(|i| json!({"id": i.to_string(), "text": format!("document {i} about information retrieval systems and their evaluation; ").repeat(8)})).collect();
    let request = json!({"query": "retrieval evaluation", "documents": long_documents});

    // One request at a time: a second one while a long rerank runs is told to come back; health
    // answers all the while, and the keep-alive connection of the refused client stays usable.
    // The refused client's idle connection waits out the long rerank, which took 12 s on a loaded
    // machine: a header timeout (which also bounds idle keep-alive connections) well past that
    // keeps it open.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("serve.toml");
    let bundle = fixtures().bundle.display().to_string();
    std::fs::write(&config, format!("bundle = {bundle:?}\n[limits]\nheader_timeout_ms = 120000\n")).unwrap();
    let server = Server::with_reranker(&["--max-concurrent-requests", "1", "--config", config.to_str().unwrap()]);
    let url = server.url("/api/rerank");
    let slow = {
        let request = request.clone();
        std::thread::spawn(move || answer(ureq::post(&url).send_json(request)))
    };
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(server.get("/api/health").0, 200);
    let mut client = RawClient::connect(&server.base);
    let search = r#"{"query":"information retrieval","mode":"bm25"}"#;
    let busy = client.request(&format!(
        "POST /api/search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{search}",
        search.len()
    ));
    assert!(busy.starts_with("HTTP/1.1 503") && busy.to_lowercase().contains("retry-after: 1"), "{busy}");
    assert_eq!(slow.join().unwrap().0, 200);
    let after = client.request(&format!(
        "POST /api/search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{search}",
        search.len()
    ));
    assert!(after.starts_with("HTTP/1.1 200"), "the same connection answers after a 503: {after}");

    // SIGTERM while a request is in flight: it is answered, then the server exits cleanly.
    let url = server.url("/api/rerank");
    let in_flight = std::thread::spawn(move || answer(ureq::post(&url).send_json(request)));
    std::thread::sleep(Duration::from_millis(300));
    let exit = server.stop();
    assert_eq!(in_flight.join().unwrap().0, 200);
    assert!(exit.success(), "{exit}");

    let hurried = Server::start(&["--request-timeout-ms", "1"]);
    let (status, body) = hurried.post("/api/search", &json!({"query": "information retrieval evaluation", "mode": "dense"}));
    assert_eq!((status, body["error"]["code"].as_str()), (504, Some("timeout")));
}

/// Bounded load on 127.0.0.1: 8 clients at once, below the concurrency limit, so no request may
/// fail. Prints requests/s, p50 and p99 per endpoint (scripts/bench-serve.sh records them).
#[test]
fn load_below_the_concurrency_limit_never_fails() {
    let server = Server::with_reranker(&["--max-concurrent-requests", "64"]);
    let queries =
        ["computer indexing", "information retrieval evaluation", "citation index", "automatic abstracting", "thesaurus construction"];
    let documents: Vec<Value> = (0..20).map(|i| json!({"id": i.to_string(), "text": format!("passage {i} about indexing, retrieval and abstracts of scientific documents")})).collect();
    let endpoints = [
        (
            "/api/search",
            25,
            Box::new(|i: usize| json!({"query": queries[i % queries.len()], "k": 10})) as Box<dyn Fn(usize) -> Value + Sync>,
        ),
        ("/api/rerank", 10, Box::new(move |i: usize| json!({"query": queries[i % queries.len()], "documents": documents, "top_k": 10}))),
    ];
    for (path, per_client, body) in &endpoints {
        let clients = 8;
        let started = std::time::Instant::now();
        let latencies: Vec<Result<f64, String>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..clients)
                .map(|c| {
                    let (url, body) = (server.url(path), &body);
                    scope.spawn(move || {
                        (0..*per_client)
                            .map(|i| {
                                let sent = std::time::Instant::now();
                                match answer(ureq::post(&url).send_json(body(c * per_client + i))) {
                                    (200, _) => Ok(sent.elapsed().as_secs_f64() * 1e3),
                                    (status, body) => Err(format!("{status}: {body}")),
                                }
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
        });
        let seconds = started.elapsed().as_secs_f64();
        let failed: Vec<&String> = latencies.iter().filter_map(|l| l.as_ref().err()).collect();
        assert!(failed.is_empty(), "{path}: {} of {} failed: {:?}", failed.len(), latencies.len(), &failed[..failed.len().min(3)]);
        let mut ms: Vec<f64> = latencies.into_iter().map(Result::unwrap).collect();
        ms.sort_by(f64::total_cmp);
        let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
        println!(
            "load {path}: {} requests from {clients} clients, {:.1} requests/s, p50 {:.1} ms, p99 {:.1} ms, 0 failed",
            ms.len(),
            ms.len() as f64 / seconds,
            at(0.5),
            at(0.99)
        );
    }
}

/// A bare HTTP/1.1 connection, for what a client library hides: several requests on one
/// keep-alive connection, partial requests, and what the server does to them.
struct RawClient {
    stream: std::net::TcpStream,
}

impl RawClient {
    fn connect(base: &str) -> Self {
        let stream = std::net::TcpStream::connect(base.trim_start_matches("http://")).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        Self { stream }
    }

    /// `n` connections that have each sent `start` and nothing more.
    fn many(base: &str, n: usize, start: &[u8]) -> Vec<Self> {
        (0..n)
            .map(|_| {
                let mut client = Self::connect(base);
                client.send(start);
                client
            })
            .collect()
    }

    fn send(&mut self, bytes: &[u8]) {
        use std::io::Write;
        self.stream.write_all(bytes).unwrap();
    }

    /// Sends a whole request and reads one response (headers, and a body of Content-Length).
    fn request(&mut self, request: &str) -> String {
        self.send(request.as_bytes());
        self.response()
    }

    /// Whether the server closes the connection (whatever it sends first) before the read timeout.
    fn closed_by_server(&mut self) -> bool {
        use std::io::Read;
        let mut buffer = [0u8; 1024];
        loop {
            match self.stream.read(&mut buffer) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) => return e.kind() == std::io::ErrorKind::ConnectionReset,
            }
        }
    }

    /// One response, or what arrived before the server closed the connection ("" for nothing).
    fn response(&mut self) -> String {
        use std::io::Read;
        let mut bytes = Vec::new();
        let mut byte = [0u8; 1];
        while !bytes.ends_with(b"\r\n\r\n") {
            match self.stream.read(&mut byte) {
                Ok(1) => bytes.push(byte[0]),
                _ => return String::from_utf8_lossy(&bytes).into_owned(),
            }
        }
        let head = String::from_utf8_lossy(&bytes).to_lowercase();
        let length = head.lines().find_map(|l| l.strip_prefix("content-length: ")).map_or(0, |n| n.trim().parse().unwrap());
        let mut body = vec![0u8; length];
        self.stream.read_exact(&mut body).unwrap();
        bytes.extend(body);
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// 64 clients stalled mid-body and 50 trickling their headers hold no concurrency slot: health
/// and searches answer while they are connected; the stalled bodies get 408 and a closed
/// connection, and the trickling headers are cut off, each after its timeout.
#[test]
fn slow_clients_hold_no_slot_and_are_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("serve.toml");
    let bundle = fixtures().bundle.display().to_string();
    let limits = "[limits]\nmax_concurrent_requests = 4\nheader_timeout_ms = 2000\nbody_timeout_ms = 2000\n";
    std::fs::write(&config, format!("bundle = {bundle:?}\n{limits}")).unwrap();
    let server = Server::start(&["--config", config.to_str().unwrap()]);
    let stalled_body = b"POST /api/search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"qu";
    let mut stalled = RawClient::many(&server.base, 64, stalled_body);
    let mut trickling = RawClient::many(&server.base, 50, b"GET /api/hea");
    std::thread::sleep(Duration::from_millis(300));
    for _ in 0..4 {
        assert_eq!(server.get("/api/health").0, 200);
        let (status, body) = server.post("/api/search", &json!({"query": "information retrieval systems", "k": 3}));
        assert_eq!(status, 200, "{body}");
    }
    for client in &mut stalled {
        let answer = client.response();
        assert!(answer.starts_with("HTTP/1.1 408") && answer.to_lowercase().contains("connection: close"), "{answer}");
    }
    for client in &mut trickling {
        assert!(client.closed_by_server(), "headers that never end are cut off");
    }
    assert_eq!(server.get("/api/health").0, 200);
}

/// Random and JSON-like bodies on every API route: each gets a 2xx or a 4xx naming the problem
/// (503 when busy), never a 5xx from a failure, and the server stays up.
#[test]
fn random_request_bodies_get_clear_answers() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    let server = Server::with_reranker(&[]);
    let fragments = prop::sample::select(vec![
        "{",
        "}",
        "\"query\":",
        "\"documents\":",
        "[",
        "]",
        "\"k\":",
        "\"mode\":",
        "\"rerank\":",
        "\"feedback\":",
        "true",
        "\"bm25\"",
        "\"dense\"",
        "{\"id\":\"1\",\"text\":\"x\"}",
        "\"\u{e9}\"",
        "-1",
        "1e9",
        "null",
        ",",
        "\"",
        "\\",
        "\u{0}",
        "0",
    ]);
    let bodies = prop_oneof![
        prop::collection::vec(fragments, 0..24).prop_map(|parts| parts.concat().into_bytes()),
        prop::collection::vec(any::<u8>(), 0..256),
    ];
    let mut runner = TestRunner::new(Config { cases: 150, ..Config::default() });
    runner
        .run(&(prop::sample::select(vec!["/api/search", "/api/rerank"]), bodies), |(route, body)| {
            let response = ureq::post(&server.url(route)).set("Content-Type", "application/json").send_bytes(&body);
            let status = match response {
                Ok(r) => r.status(),
                Err(ureq::Error::Status(code, _)) => code,
                Err(e) => panic!("{route}: {e}"),
            };
            prop_assert!(status < 500 || status == 503, "{route} {:?}: {status}", String::from_utf8_lossy(&body));
            Ok(())
        })
        .unwrap();
    assert_eq!(server.get("/api/health").0, 200);
}
