//! Metrics equal trec_eval's (through pytrec_eval) on ../shared/fixtures/metrics_golden.json to 1e-6.

use dowse_core::corpus::{Qrels, Run};
use dowse_core::metrics::{evaluate, Metric};
use dowse_tests::{fixture, read};
use serde_json::Value;

#[test]
fn every_value_matches_trec_eval() {
    let golden: Value = serde_json::from_slice(&read(&fixture("metrics_golden.json"))).unwrap();
    let qrels: Qrels = golden["qrels"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(q, docs)| (q.clone(), docs.as_object().unwrap().iter().map(|(d, g)| (d.clone(), g.as_i64().unwrap() as i32)).collect()))
        .collect();
    let run: Run = golden["run"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(q, docs)| (q.clone(), docs.as_object().unwrap().iter().map(|(d, s)| (d.clone(), s.as_f64().unwrap())).collect()))
        .collect();
    let names: Vec<&str> = golden["mean"].as_object().unwrap().keys().map(String::as_str).collect();
    let metrics: Vec<Metric> = names.iter().map(|n| n.parse().unwrap()).collect();
    let evaluation = evaluate(&qrels, &run, &metrics);

    let per_query = golden["per_query"].as_object().unwrap();
    assert_eq!(evaluation.per_query.len(), per_query.len());
    let mut checked = 0;
    for (qid, values) in per_query {
        for (name, want) in values.as_object().unwrap() {
            let got = evaluation.per_query[qid][name];
            assert!((got - want.as_f64().unwrap()).abs() < 1e-6, "{qid} {name}: got {got}, trec_eval {want}");
            checked += 1;
        }
    }
    for (name, want) in golden["mean"].as_object().unwrap() {
        let got = evaluation.mean[name];
        assert!((got - want.as_f64().unwrap()).abs() < 1e-6, "mean {name}: got {got}, trec_eval {want}");
        checked += 1;
    }
    assert!(checked > 100, "only {checked} values compared");
}
