//! `dowse index`, `dowse search` and `dowse eval --bundle` end to end: a static site of HTML pages
//! (sections link to their anchors), JSONL and CSV inputs, a SMART collection evaluated through
//! its bundle, reproducible builds, the app the binary carries, and clear errors for bad input.

use std::path::Path;
use std::process::{Command, Output};

use dowse_core::fragments;
use dowse_tests::{data, minilm_dir};
use serde_json::Value;

fn dowse(args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_dowse")).args(args).output().unwrap();
    eprintln!("dowse {args:?}\n{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    output
}

fn index(input: &Path, out: &Path, extra: &[&str]) -> Output {
    let (input, out, model) = (input.display().to_string(), out.display().to_string(), minilm_dir().display().to_string());
    let mut args = vec!["index", "--input", &input, "--out", &out, "--model", &model];
    args.extend(extra);
    dowse(&args)
}

/// The result documents' ids of a `dowse search --json` answer, in rank order.
fn doc_ids(result: &Value) -> Vec<&str> {
    result["results"].as_array().unwrap().iter().map(|r| r["doc_id"].as_str().unwrap()).collect()
}

fn search_json(bundle: &Path, query: &str, mode: &str) -> Value {
    let output = dowse(&["search", "--bundle", &bundle.display().to_string(), query, "--json", "--mode", mode, "--k", "3"]);
    assert!(output.status.success());
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn a_static_site_is_searchable_by_section_with_anchors() {
    let site = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(site.path().join("guide")).unwrap();
    std::fs::write(
        site.path().join("index.html"),
        "<html><head><title>Welcome</title><meta data-dowse-filter=\"kind:home\"></head><body><nav>Home Guide</nav><main><h1>Welcome</h1>\
         <p data-dowse-sort=\"1\">This site documents the telescope.</p></main></body></html>",
    )
    .unwrap();
    std::fs::write(
        site.path().join("guide/setup.html"),
        "<html><head><title>Setup guide</title><script>var tracking = 1;</script></head><body><main data-dowse-filter=\"kind:guide\">\
         <h1>Setup guide</h1><p>Unpack the box.</p>\
         <h2 id=\"mirror\">Cleaning the mirror</h2><p>Use distilled water and a soft brush to remove dust from the primary mirror.</p>\
         <h2 id=\"mount\">Aligning the mount</h2><p>Point the polar axis at the celestial pole before observing.</p>\
         <div data-dowse-ignore><p>Cookie banner about tracking</p></div></main></body></html>",
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let bundle = out.path().join("_dowse");
    let output = index(site.path(), &bundle, &["--quant", "f16"]);
    assert!(output.status.success());
    let summary = String::from_utf8_lossy(&output.stderr);
    assert!(summary.contains("2 documents, 4 passages, f16 vectors"), "{summary}");
    assert!(summary.contains("index.html: unknown attribute data-dowse-sort, ignored"), "{summary}");

    for mode in ["hybrid", "dense", "bm25"] {
        let result = search_json(&bundle, "how do I clean dust off the mirror", mode);
        let top = &result["results"][0];
        assert_eq!(top["url"], "guide/setup.html#mirror", "{mode}: {result}");
        assert_eq!(top["title"], "Setup guide");
        assert_eq!(top["heading"], "Cleaning the mirror");
        assert!(result["timings_ms"]["search"].as_f64().unwrap() >= 0.0);
        assert!(top["snippet"].as_str().unwrap().contains("mirror"));
    }
    // Ignored and scripted text is not indexed.
    let result = search_json(&bundle, "tracking cookie banner", "bm25");
    assert_eq!(result["results"].as_array().unwrap().len(), 0, "{result}");

    // Documents, not passages: the setup page appears once however many of its sections match.
    let result = search_json(&bundle, "mirror mount telescope", "hybrid");
    let ids = doc_ids(&result);
    assert_eq!(ids.len(), 2, "{result}");
    assert!(ids.contains(&"guide/setup.html") && ids.contains(&"index.html"));

    let text = dowse(&["search", "--bundle", &bundle.display().to_string(), "polar axis"]);
    let printed = String::from_utf8_lossy(&text.stdout);
    assert!(printed.contains("Setup guide › Aligning the mount  guide/setup.html#mount"), "{printed}");
    assert!(printed.contains("[polar] [axis]"), "{printed}");
    assert!(String::from_utf8_lossy(&text.stderr).contains("tokenize"));

    // Filters keep only the pages that carry them, in every mode.
    let bundle_arg = bundle.display().to_string();
    for mode in ["hybrid", "dense", "bm25"] {
        let output =
            dowse(&["search", "--bundle", &bundle_arg, "mirror mount telescope", "--json", "--mode", mode, "--filter", "kind:home"]);
        let result: Value = serde_json::from_slice(&output.stdout).unwrap();
        let ids = doc_ids(&result);
        assert_eq!(ids, ["index.html"], "{mode}: {result}");
    }
    let either = dowse(&["search", "--bundle", &bundle_arg, "mirror", "--json", "--filter", "kind:home", "--filter", "kind:guide"]);
    assert_eq!(serde_json::from_slice::<Value>(&either.stdout).unwrap()["results"].as_array().unwrap().len(), 2);
    let bad = dowse(&["search", "--bundle", &bundle_arg, "mirror", "--filter", "kind"]);
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("\"kind\" is not KEY:VALUE"));
}

#[test]
fn jsonl_and_csv_inputs_index_and_long_documents_become_passages() {
    let dir = tempfile::tempdir().unwrap();
    let long = "The quick brown fox jumps over the lazy dog. ".repeat(120);
    let jsonl = dir.path().join("docs.jsonl");
    std::fs::write(
        &jsonl,
        format!(
            "{{\"id\": \"long\", \"title\": \"Foxes\", \"text\": \"{long}\", \"url\": \"https://example.org/foxes\", \"filters\": {{\"kind\": \"animals\"}}}}\n\
             {{\"id\": \"short\", \"text\": \"Quantum chromodynamics describes the strong interaction.\", \"filters\": {{\"kind\": [\"physics\", \"theory\"]}}}}\n"
        ),
    )
    .unwrap();
    let bundle = dir.path().join("jsonl-bundle");
    let output = index(&jsonl, &bundle, &["--quant", "binary"]);
    assert!(output.status.success());
    let manifest: Value = serde_json::from_slice(&std::fs::read(bundle.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["documents"], 2);
    assert!(manifest["passages"].as_u64().unwrap() >= 4, "{manifest}");
    let result = search_json(&bundle, "strong interaction quarks", "dense");
    assert_eq!(result["results"][0]["doc_id"], "short");
    assert_eq!(search_json(&bundle, "lazy dog", "bm25")["results"][0]["url"], "https://example.org/foxes");
    // A JSONL document's filters narrow searches as an HTML page's do.
    let filtered = dowse(&["search", "--bundle", &bundle.display().to_string(), "lazy dog", "--json", "--filter", "kind:theory"]);
    let result: Value = serde_json::from_slice(&filtered.stdout).unwrap();
    let ids = doc_ids(&result);
    assert_eq!(ids, ["short"], "{result}");

    let csv = dir.path().join("pairs.csv");
    std::fs::write(&csv, "query,passage,label\nwho,Marie Curie won two Nobel prizes.,1\nwhat,Marie Curie won two Nobel prizes.,0\nwhere,Paris is in France.,1\n").unwrap();
    let bundle = dir.path().join("csv-bundle");
    assert!(index(&csv, &bundle, &[]).status.success());
    let result = search_json(&bundle, "Nobel prize winner", "hybrid");
    assert_eq!(result["results"].as_array().unwrap().len(), 2, "distinct passages only: {result}");
    assert_eq!(result["results"][0]["doc_id"], "p0");
}

#[test]
fn eval_through_a_bundle_matches_eval_of_the_collection() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("adi");
    assert!(index(&data("adi"), &bundle, &["--quant", "f32"]).status.success());
    let adi = data("adi").display().to_string();
    let model = minilm_dir().display().to_string();
    let ndcg = |output: Output| -> f64 {
        assert!(output.status.success());
        let table = String::from_utf8_lossy(&output.stdout).into_owned();
        table.lines().nth(1).unwrap().split_whitespace().nth(2).unwrap().parse().unwrap()
    };
    for retriever in ["bm25", "dense"] {
        // ADI's documents are short: one passage each, so the bundle ranks what eval ranks; with
        // all 82 passages rescored, the bundle's dense search is exact, as eval's is.
        let bundle = bundle.display().to_string();
        let through_bundle = ndcg(dowse(&["eval", "--data", &adi, "--bundle", &bundle, "--retriever", retriever, "--rescore", "82"]));
        let direct = ndcg(dowse(&["eval", "--data", &adi, "--model", &model, "--retriever", retriever]));
        assert!((through_bundle - direct).abs() < 1e-3, "{retriever}: bundle {through_bundle}, direct {direct}");
    }
}

/// `--with-app` alone takes the app the binary carries (scripts/build-app.sh); a build that
/// carries none, run where there is no `dist` folder, says how to build it and writes nothing.
#[test]
fn with_app_alone_takes_the_app_inside_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("_dowse");
    let (input, target, model) = (data("adi").display().to_string(), out.display().to_string(), minilm_dir().display().to_string());
    let output = Command::new(env!("CARGO_BIN_EXE_dowse"))
        .args(["index", "--input", &input, "--out", &target, "--model", &model, "--with-app"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let message = String::from_utf8_lossy(&output.stderr);
    if dowse_trainer::app_inside::FILES.is_empty() {
        assert!(!output.status.success());
        assert!(message.contains("carries no browser app") && message.contains("scripts/build-app.sh"), "{message}");
        assert!(!out.exists(), "nothing is written without the app");
        return;
    }
    assert!(output.status.success(), "{message}");
    for file in ["dowse.js", "index.html", "dowse-worker.js", "dowse-static_bg.wasm", "dowse-encoder_bg.wasm", "manifest.json"] {
        assert!(out.join(file).is_file(), "{file}");
    }
    // The loader names the app's hashed files, the build's @-marked names all filled in; each
    // module has its deflated copy beside it, which inflates to the module.
    let script = std::fs::read_to_string(out.join("dowse.js")).unwrap();
    assert!(!script.contains("@APP_") && !script.contains("@STYLE@"), "{script}");
    let named: Vec<&str> = script.split('"').filter(|part| part.starts_with("./dowse-web-") || part.starts_with("./style-")).collect();
    assert_eq!(named.len(), 4, "the script, the module, the script again (its timing), the styles: {named:?}");
    for name in named {
        assert!(out.join(name.trim_start_matches("./")).is_file(), "{name}");
    }
    let wasm = named_module(&script);
    for module in [wasm.as_str(), "dowse-static_bg.wasm", "dowse-encoder_bg.wasm"] {
        let deflated = std::fs::read(out.join(module.replace(".wasm", ".deflate"))).unwrap();
        let inflated = fragments::open_fragment(&fragments::fragment_name(&deflated), &deflated).unwrap();
        assert!(inflated == std::fs::read(out.join(module)).unwrap(), "{module}: its deflated copy is another module");
    }
}

/// The app's module that `script` (dowse.js) loads.
fn named_module(script: &str) -> String {
    let module = script.split('"').find(|part| part.starts_with("./dowse-web-") && part.ends_with("_bg.wasm"));
    module.expect("dowse.js names the app's module").trim_start_matches("./").to_string()
}

#[test]
fn indexing_twice_gives_byte_identical_bundles() {
    let dir = tempfile::tempdir().unwrap();
    let files = |name: &str| -> Vec<(String, Vec<u8>)> {
        let bundle = dir.path().join(name);
        assert!(index(&data("adi"), &bundle, &[]).status.success());
        let mut files = Vec::new();
        for folder in [bundle.clone(), bundle.join("model"), bundle.join("fragments")] {
            for path in std::fs::read_dir(&folder).unwrap().map(|entry| entry.unwrap().path()).filter(|path| path.is_file()) {
                files.push((path.strip_prefix(&bundle).unwrap().display().to_string(), std::fs::read(&path).unwrap()));
            }
        }
        files.sort();
        files
    };
    let (first, second) = (files("first"), files("second"));
    assert!(first.iter().filter(|(name, _)| name.starts_with("fragments/")).count() > 2);
    assert!(first == second, "two builds of one corpus differ");
}

#[test]
fn bad_input_and_damaged_bundles_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("bad.jsonl");
    std::fs::write(&jsonl, "{\"id\": \"a\", \"text\": \"fine\"}\n{\"id\": \"b\", \"text\": 7}\n").unwrap();
    let output = index(&jsonl, &dir.path().join("never"), &[]);
    assert!(!output.status.success());
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(message.contains("bad.jsonl:2: field `text`"), "{message}");
    assert!(!dir.path().join("never").exists(), "nothing is written for bad input");

    let no_app = dir.path().join("no-dist");
    let output = index(&data("adi"), &dir.path().join("never"), &["--with-app", &no_app.display().to_string()]);
    assert!(!output.status.success());
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(message.contains("no-dist") && message.contains("scripts/build-app.sh"), "{message}");
    assert!(!dir.path().join("never").exists(), "nothing is written without the app");

    // A tokenizer.json of more word pieces than config.json's vocab_size: files of two models.
    let mixed = dir.path().join("mixed-model");
    std::fs::create_dir(&mixed).unwrap();
    for name in ["model.safetensors", "tokenizer.json"] {
        std::fs::copy(minilm_dir().join(name), mixed.join(name)).unwrap();
    }
    let mut config: Value = serde_json::from_slice(&std::fs::read(minilm_dir().join("config.json")).unwrap()).unwrap();
    config["vocab_size"] = 10_000.into();
    std::fs::write(mixed.join("config.json"), config.to_string()).unwrap();
    let (adi, never, mixed) =
        (data("adi").display().to_string(), dir.path().join("never").display().to_string(), mixed.display().to_string());
    let output = dowse(&["index", "--input", &adi, "--out", &never, "--model", &mixed]);
    assert!(!output.status.success());
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(message.contains("tokenizer.json: 30522 word pieces, more than config.json's vocab_size 10000"), "{message}");

    let bundle = dir.path().join("adi");
    assert!(index(&data("adi"), &bundle, &[]).status.success());
    let manifest: Value = serde_json::from_slice(&std::fs::read(bundle.join("manifest.json")).unwrap()).unwrap();
    let root = format!("fragments/{}", manifest["fragments"]["root"].as_str().unwrap());
    let mut bytes = std::fs::read(bundle.join(&root)).unwrap();
    bytes.truncate(bytes.len() - 8);
    std::fs::write(bundle.join(&root), bytes).unwrap();
    let output = dowse(&["search", "--bundle", &bundle.display().to_string(), "anything"]);
    assert!(!output.status.success());
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(message.contains(&root) && message.contains("truncated or replaced"), "{message}");
}
