//! What a careless or hostile user can hand `dowse`, and what a kill can interrupt: `--out` never
//! destroys what dowse did not write, an index killed at any step leaves a bundle that loads,
//! damaged models (checksums recomputed, so only dowse's own checks see it) are refused by file
//! and tensor without a panic or a hang, evaluations that would be silently wrong say so, and
//! legacy encodings, duplicate ids and megabyte-long words are read as a user would expect.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use dowse_tests::data;
use serde_json::Value;

/// Runs `dowse` with `DOWSE_HOME` in `home` (nothing downloaded) and fails
/// the test, instead of hanging it, if the process has not ended within two minutes.
fn dowse_in(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dowse"))
        .args(args)
        .env("DOWSE_HOME", home)
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(120) {
            child.kill().unwrap();
            panic!("dowse {args:?} hung");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    eprintln!("dowse {args:?}\n{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    output
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A JSONL corpus of `n` short documents, ids `d0..`, in `dir/name`.
fn corpus(dir: &Path, name: &str, n: usize) -> PathBuf {
    let path = dir.join(name);
    let lines: String = (0..n)
        .map(|i| {
            format!(
                "{{\"_id\":\"d{i}\",\"title\":\"Document {i}\",\"text\":\"telescope mirror number {i} cleaned with distilled water\"}}\n"
            )
        })
        .collect();
    std::fs::write(&path, lines).unwrap();
    path
}

/// `dowse index` with the SciFact student (`models/student`) encoding both sides: small and in
/// the repository, so these tests need no download.
fn index(home: &Path, input: &Path, out: &Path, env: &[(&str, &str)]) -> Output {
    let student = concat!(env!("CARGO_MANIFEST_DIR"), "/../models/student");
    dowse_in(home, &["index", "--input", input.to_str().unwrap(), "--out", out.to_str().unwrap(), "--model", student], env)
}

/// The document count of the bundle in `dir`, searched as `dowse search` loads it.
fn documents_found(home: &Path, dir: &Path) -> usize {
    let output = dowse_in(home, &["search", "--bundle", dir.to_str().unwrap(), "telescope mirror", "--json", "--k", "100"], &[]);
    assert!(output.status.success(), "{} loads and searches", dir.display());
    let result: Value = serde_json::from_slice(&output.stdout).unwrap();
    result["results"].as_array().unwrap().len()
}

#[test]
fn out_never_replaces_what_dowse_did_not_write() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let site = dir.path().join("site");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(site.join("index.html"), "<title>Home</title><p>The telescope mirror page.</p>").unwrap();
    let precious = dir.path().join("precious.txt");
    std::fs::write(&precious, "keep me").unwrap();
    let notes = dir.path().join("notes");
    std::fs::create_dir_all(&notes).unwrap();
    std::fs::write(notes.join("todo.md"), "keep me too").unwrap();

    for (out, expected) in [
        (precious.clone(), "is not a folder dowse wrote"),
        (site.clone(), "is or contains the input"),
        (dir.path().to_path_buf(), "is or contains the input"),
        (notes.clone(), "it has no manifest.json"),
    ] {
        let refused = index(&home, &site, &out, &[]);
        assert_eq!(refused.status.code(), Some(1), "{}", out.display());
        assert!(stderr(&refused).contains(expected), "{}: {}", out.display(), stderr(&refused));
    }
    assert_eq!(std::fs::read_to_string(&precious).unwrap(), "keep me");
    assert_eq!(std::fs::read_to_string(notes.join("todo.md")).unwrap(), "keep me too");
    assert!(site.join("index.html").is_file());

    // Inside the site, an empty folder, and an earlier bundle are fine to write.
    std::fs::create_dir_all(site.join("_dowse")).unwrap();
    assert!(index(&home, &site, &site.join("_dowse"), &[]).status.success());
    assert!(index(&home, &site, &site.join("_dowse"), &[]).status.success());
    assert!(site.join("index.html").is_file());
}

#[test]
fn an_index_killed_at_any_step_leaves_a_bundle_that_loads() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let (small, large) = (corpus(dir.path(), "small.jsonl", 3), corpus(dir.path(), "large.jsonl", 5));
    let out = dir.path().join("bundle");
    assert!(index(&home, &small, &out, &[]).status.success());
    assert_eq!(documents_found(&home, &out), 3);

    for point in ["folder-file", "folder-staged", "folder-exchanged"] {
        let killed = index(&home, &large, &out, &[("DOWSE_FAULT_AT", point)]);
        assert!(!killed.status.success(), "{point}: the fault hook kills the run");
        let found = documents_found(&home, &out);
        assert!(found == 3 || found == 5, "{point}: the old bundle or the new one, whole: {found}");
        assert!(index(&home, &small, &out, &[]).status.success(), "{point}");
        let leftovers: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.starts_with(".dowse"))
            .collect();
        assert!(leftovers.is_empty(), "{point}: the next run removes what the killed one left: {leftovers:?}");
        assert_eq!(documents_found(&home, &out), 3);
    }
}

/// The bundle's `file`, changed by `change`, with the manifest's size and checksum recomputed.
fn tamper(bundle: &Path, file: &str, change: impl FnOnce(Vec<u8>) -> Vec<u8>) {
    let bytes = change(std::fs::read(bundle.join(file)).unwrap());
    std::fs::write(bundle.join(file), &bytes).unwrap();
    let mut manifest: Value = serde_json::from_slice(&std::fs::read(bundle.join("manifest.json")).unwrap()).unwrap();
    let entry = manifest["files"].as_array_mut().unwrap().iter_mut().find(|f| f["path"] == file).unwrap();
    entry["bytes"] = bytes.len().into();
    entry["sha256"] = dowse_core::bundle::sha256_hex(&bytes).into();
    // A copy among the fragments (the tokenizer's) holds the old bytes: the entry drops it.
    entry.as_object_mut().unwrap().remove("fragment");
    std::fs::write(bundle.join("manifest.json"), serde_json::to_vec(&manifest).unwrap()).unwrap();
}

/// `bytes` with the first `from` replaced by `to` (in a safetensors header, of the same length).
fn replace_once(bytes: Vec<u8>, from: &str, to: &str) -> Vec<u8> {
    let at = bytes.windows(from.len()).position(|w| w == from.as_bytes()).unwrap_or_else(|| panic!("{from} is in the file"));
    let mut bytes = bytes;
    bytes.splice(at..at + from.len(), to.bytes());
    bytes
}

#[test]
fn damaged_models_are_refused_by_file_and_tensor_without_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let adi = data("adi");
    let clean = dir.path().join("clean");
    assert!(index(&home, &adi, &clean, &[]).status.success());
    type Change = Box<dyn FnOnce(Vec<u8>) -> Vec<u8>>;
    let cases: Vec<(&str, &str, Change, &str)> = vec![
        (
            "int tensor",
            "model/model.safetensors",
            Box::new(|b| replace_once(b, "\"dtype\":\"F32\"", "\"dtype\":\"I32\"")),
            "dtype I32 where a float is expected",
        ),
        (
            "no int8 marker",
            "model/model.safetensors",
            Box::new(|b| replace_once(b, "dowse.quantization", "dowse.quantizatioX")),
            "int8 but the file lacks",
        ),
        (
            "special id",
            "model/tokenizer.json",
            Box::new(|b| replace_once(b, "\"ids\":[2]", "\"ids\":[999999]")),
            "outside config.json's vocab_size",
        ),
        (
            "wider encoder",
            "model/config.json",
            Box::new(|b| replace_once(b, "\"hidden_size\": 384", "\"hidden_size\": 768")),
            "768-dimensional",
        ),
    ];
    for (case, file, change, expected) in cases {
        let bundle = dir.path().join(case.replace(' ', "-"));
        copy_dir(&clean, &bundle);
        tamper(&bundle, file, change);
        for args in [
            vec!["search", "--bundle", bundle.to_str().unwrap(), "automatic indexing"],
            vec!["eval", "--data", adi.to_str().unwrap(), "--bundle", bundle.to_str().unwrap(), "--retriever", "dense"],
        ] {
            let refused = dowse_in(&home, &args, &[]);
            let message = stderr(&refused);
            assert_eq!(refused.status.code(), Some(1), "{case}, {}: an error, not a panic: {message}", args[0]);
            assert!(message.contains(expected) && !message.contains("panicked"), "{case}, {}: {message}", args[0]);
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in walk(from) {
        let target = to.join(entry.strip_prefix(from).unwrap());
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&entry, target).unwrap();
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .flat_map(|e| {
            let path = e.unwrap().path();
            if path.is_dir() {
                walk(&path)
            } else {
                vec![path]
            }
        })
        .collect()
}

#[test]
fn evaluations_that_would_be_silently_wrong_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let adi_bundle = dir.path().join("adi");
    assert!(index(&home, &data("adi"), &adi_bundle, &[]).status.success());

    // Judged queries without text are left out with a count, not scored as zeros.
    let beir = dir.path().join("beir");
    std::fs::create_dir_all(beir.join("qrels")).unwrap();
    std::fs::write(beir.join("corpus.jsonl"), "{\"_id\":\"a\",\"text\":\"telescope mirror\"}\n{\"_id\":\"b\",\"text\":\"garden roses\"}\n")
        .unwrap();
    std::fs::write(beir.join("queries.jsonl"), "{\"_id\":\"q1\",\"text\":\"telescope\"}\n").unwrap();
    std::fs::write(beir.join("qrels/test.tsv"), "query-id\tcorpus-id\tscore\nq1\ta\t1\nq2\tb\t1\nq3\tb\t1\n").unwrap();
    let textless = dowse_in(&home, &["eval", "--data", beir.to_str().unwrap(), "--retriever", "bm25"], &[]);
    assert!(textless.status.success());
    assert!(stderr(&textless).contains("2 judged queries of split \"test\" have no text"), "{}", stderr(&textless));
    let table = String::from_utf8_lossy(&textless.stdout);
    assert!(table.lines().nth(1).unwrap().split_whitespace().collect::<Vec<_>>()[1..3] == ["1", "1.0000"], "{table}");

    // A bundle of another corpus: refused, naming both; one that shares some ids: a warning.
    let other =
        dowse_in(&home, &["eval", "--data", beir.to_str().unwrap(), "--bundle", adi_bundle.to_str().unwrap(), "--retriever", "bm25"], &[]);
    assert_eq!(other.status.code(), Some(1));
    let message = stderr(&other);
    assert!(message.contains("holds none of the 1 documents judged relevant") && message.contains("beir"), "{message}");
    let cranfield = data("cranfield");
    let partly = dowse_in(
        &home,
        &["eval", "--data", cranfield.to_str().unwrap(), "--bundle", adi_bundle.to_str().unwrap(), "--retriever", "bm25"],
        &[],
    );
    assert!(partly.status.success());
    assert!(stderr(&partly).contains("lacks 774 of the 830 documents judged relevant"), "{}", stderr(&partly));
}

#[test]
fn legacy_encodings_duplicate_ids_and_huge_words_are_read_as_users_expect() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let site = dir.path().join("site");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(site.join("latin1.html"), b"<html><head><meta charset=\"iso-8859-1\"><title>Caf\xe9</title></head><body><p>Un caf\xe9 cr\xe8me au comptoir.</p></body></html>").unwrap();
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain("<title>Crème</title><p>Crème brûlée recipe</p>".encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    std::fs::write(site.join("utf16.html"), utf16).unwrap();
    std::fs::write(site.join("legacy.html"), b"<title>Na\xefve</title><p>na\xefve page</p>").unwrap();
    let bundle = dir.path().join("bundle");
    let indexed = index(&home, &site, &bundle, &[]);
    assert!(indexed.status.success());
    assert!(stderr(&indexed).contains("legacy.html: not UTF-8 and no charset declared: read as windows-1252"), "{}", stderr(&indexed));
    let output =
        dowse_in(&home, &["search", "--bundle", bundle.to_str().unwrap(), "café crème brûlée naïve", "--json", "--mode", "bm25"], &[]);
    let result: Value = serde_json::from_slice(&output.stdout).unwrap();
    let mut titles: Vec<&str> = result["results"].as_array().unwrap().iter().map(|r| r["title"].as_str().unwrap()).collect();
    titles.sort();
    assert_eq!(titles, ["Café", "Crème", "Naïve"]);

    // Duplicate ids: the first is kept, with a warning; a 5 MB word is cut, with a warning.
    let jsonl = dir.path().join("docs.jsonl");
    let huge = "x".repeat(5 << 20);
    std::fs::write(
        &jsonl,
        format!("{{\"_id\":\"a\",\"text\":\"first telescope\"}}\n{{\"_id\":\"a\",\"text\":\"second telescope\"}}\n{{\"_id\":\"b\",\"text\":\"blob {huge} telescope\"}}\n"),
    )
    .unwrap();
    let indexed = index(&home, &jsonl, &bundle, &[]);
    assert!(indexed.status.success());
    let log = stderr(&indexed);
    assert!(log.contains("1 documents repeat an earlier document's id (e.g. [\"a\"])"), "{log}");
    assert!(log.contains("b: 1 words longer than 256 bytes cut to 256 bytes"), "{log}");
    let output = dowse_in(&home, &["search", "--bundle", bundle.to_str().unwrap(), "telescope", "--json", "--mode", "bm25"], &[]);
    let result: Value = serde_json::from_slice(&output.stdout).unwrap();
    let ids: Vec<&str> = result["results"].as_array().unwrap().iter().map(|r| r["doc_id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 2, "{result}");
    assert!(result.to_string().contains("first telescope"));
}
