//! The page: loads the bundle (with progress) and the encoder, then searches as the user types,
//! shows the results with their latency, reranks through the server when asked, and draws the
//! embedding map.
//!
//! For tests and tooling the root element carries `data-state` (`loading`, `ready`, `error`) and
//! `data-backend` (`WebGPU`, `CPU`); the latency line carries each step's milliseconds.

use std::rc::Rc;
use std::time::Duration;

use dowse_core::search::Mode;
use dowse_core::text::Snippet;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::encoder::QueryEncoder;
use crate::engine::{Engine, Outcome, ResultItem};
use crate::loader::{load_bundle, FileProgress};
use crate::map::{draw, Frame};
use crate::rerank::{self, RERANK_DEPTH};
use crate::settings::{share_query, Settings};

/// Results shown.
const K: usize = 10;
/// Quiet time after a keystroke before searching.
const DEBOUNCE: Duration = Duration::from_millis(150);

#[derive(Debug, Clone, PartialEq)]
enum Status {
    Loading(Vec<FileProgress>),
    PreparingEncoder,
    Ready,
    Failed(String),
}

/// What the server did with the last results.
#[derive(Debug, Clone, PartialEq)]
enum RerankNote {
    None,
    Reranked {
        model: String,
        ms: f64,
    },
    /// The server was asked and did not answer well: the client's order is shown.
    Fallback(String),
}

#[component]
pub fn App(settings: Settings) -> impl IntoView {
    let status = RwSignal::new(Status::Loading(Vec::new()));
    let backend = RwSignal::new(None::<(&'static str, Option<String>)>);
    let query = RwSignal::new(settings.query.clone());
    let mode = RwSignal::new(Mode::Hybrid);
    let outcome = RwSignal::new(None::<Outcome>);
    let search_error = RwSignal::new(None::<String>);
    let reranker = RwSignal::new(None::<String>);
    let rerank_on = RwSignal::new(false);
    let rerank_note = RwSignal::new(RerankNote::None);
    let engine = StoredValue::new_local(None::<Rc<Engine>>);
    let latest = StoredValue::new(0u64);
    let pending = StoredValue::new_local(None::<TimeoutHandle>);
    let api = settings.api.clone();

    let run_search = {
        let api = api.clone();
        move || {
            let Some(engine) = engine.get_value() else { return };
            let text = query.get_untracked().trim().to_string();
            let ticket = latest.get_value() + 1;
            latest.set_value(ticket);
            share_query(&text);
            if text.is_empty() {
                outcome.set(None);
                return;
            }
            let rerank_with = rerank_on.get_untracked().then(|| reranker.get_untracked()).flatten();
            let api = api.clone();
            spawn_local(async move {
                let depth = if rerank_with.is_some() { RERANK_DEPTH } else { K };
                let result = engine.search(&text, mode.get_untracked(), depth).await;
                if latest.get_value() != ticket {
                    return;
                }
                let mut found = match result {
                    Ok(found) => found,
                    Err(e) => {
                        search_error.set(Some(e));
                        return;
                    }
                };
                search_error.set(None);
                let note = match rerank_with {
                    Some(model) => rerank_items(&api, &mut found, model).await,
                    None => RerankNote::None,
                };
                if latest.get_value() == ticket {
                    found.items.truncate(K);
                    rerank_note.set(note);
                    outcome.set(Some(found));
                }
            });
        }
    };

    {
        let run_search = run_search.clone();
        let settings = settings.clone();
        spawn_local(async move {
            let report = move |files: Vec<FileProgress>| status.set(Status::Loading(files));
            let bundle = match load_bundle(&settings.bundle, &report).await {
                Ok(bundle) => bundle,
                Err(e) => return status.set(Status::Failed(e)),
            };
            status.set(Status::PreparingEncoder);
            let max_len = bundle.manifest.model.max_len;
            let loaded = match QueryEncoder::load(&bundle.model, max_len, settings.backend).await {
                Ok(loaded) => loaded,
                Err(e) => return status.set(Status::Failed(format!("the bundle's model cannot be loaded: {e}"))),
            };
            let ready = Rc::new(Engine::new(bundle, loaded.0));
            if let Err(e) = ready.warm_up().await {
                return status.set(Status::Failed(format!("the encoder failed its warm-up: {e}")));
            }
            backend.set(Some((ready.encoder.label(), loaded.1)));
            engine.set_value(Some(ready));
            status.set(Status::Ready);
            run_search();
        });
    }
    {
        let api = api.clone();
        spawn_local(async move { reranker.set(rerank::probe(&api).await) });
    }

    let on_input = {
        let run_search = run_search.clone();
        move |ev| {
            query.set(event_target_value(&ev));
            if let Some(handle) = pending.get_value() {
                handle.clear();
            }
            let run_search = run_search.clone();
            pending.set_value(set_timeout_with_handle(run_search, DEBOUNCE).ok());
        }
    };
    let on_mode = {
        let run_search = run_search.clone();
        move |ev| {
            mode.set(event_target_value(&ev).parse().unwrap_or_default());
            run_search();
        }
    };
    let on_rerank = {
        let run_search = run_search.clone();
        move |ev| {
            rerank_on.set(event_target_checked(&ev));
            run_search();
        }
    };

    let state = move || match status.get() {
        Status::Ready => "ready",
        Status::Failed(_) => "error",
        _ => "loading",
    };
    view! {
        <div class="dowse" data-state=state data-backend=move || backend.get().map(|b| b.0).unwrap_or_default()>
            <div class="dowse-bar">
                <input
                    class="dowse-query"
                    type="search"
                    placeholder="Search"
                    autofocus
                    prop:value=move || query.get()
                    on:input=on_input
                    disabled=move || status.get() != Status::Ready
                />
                <select class="dowse-mode" on:change=on_mode>
                    <option value="hybrid">"hybrid"</option>
                    <option value="dense">"dense"</option>
                    <option value="bm25">"BM25"</option>
                </select>
                <Show when=move || reranker.get().is_some()>
                    <label class="dowse-rerank">
                        <input type="checkbox" on:change=on_rerank.clone() />
                        " rerank on the server"
                    </label>
                </Show>
            </div>
            {move || match status.get() {
                Status::Loading(files) => progress_view(&files).into_any(),
                Status::PreparingEncoder => view! { <p class="dowse-status">"Preparing the query encoder…"</p> }.into_any(),
                Status::Failed(message) => view! { <p class="dowse-error" role="alert">{message}</p> }.into_any(),
                Status::Ready => ().into_any(),
            }}
            <BackendLine backend=backend />
            {move || search_error.get().map(|e| view! { <p class="dowse-error" role="alert">{e}</p> })}
            <LatencyLine outcome=outcome rerank_note=rerank_note />
            <ol class="dowse-results">
                {move || outcome.get().map(|o| o.items.into_iter().map(result_view).collect_view())}
            </ol>
            <EmbeddingMap engine=engine outcome=outcome />
        </div>
    }
}

/// Reorders `found` by the server's scores; on any failure leaves it as is and says why.
async fn rerank_items(api: &str, found: &mut Outcome, model: String) -> RerankNote {
    let start = crate::clock::now_ms();
    let texts: Vec<&str> = found.items.iter().map(|item| item.text.as_str()).collect();
    match rerank::rerank(api, &found.query, &texts).await {
        Ok(order) => {
            let mut items: Vec<ResultItem> = Vec::with_capacity(order.len());
            for (index, score) in order {
                let mut item = found.items[index].clone();
                item.score = score;
                items.push(item);
            }
            found.items = items;
            RerankNote::Reranked { model, ms: crate::clock::now_ms() - start }
        }
        Err(e) => RerankNote::Fallback(e),
    }
}

fn progress_view(files: &[FileProgress]) -> impl IntoView {
    let total: u64 = files.iter().map(|f| f.total).sum();
    let done: u64 = files.iter().map(|f| f.done).sum();
    let rows = files
        .iter()
        .map(|f| {
            let source = if f.cached { " (cached)" } else { "" };
            view! { <li>{format!("{}: {} of {}{source}", f.path, megabytes(f.done), megabytes(f.total))}</li> }
        })
        .collect_view();
    view! {
        <div class="dowse-loading">
            <p class="dowse-status">{format!("Loading the search bundle: {} of {}", megabytes(done), megabytes(total))}</p>
            <progress max=total.max(1) value=done></progress>
            <ul class="dowse-files">{rows}</ul>
        </div>
    }
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

#[component]
fn BackendLine(backend: RwSignal<Option<(&'static str, Option<String>)>>) -> impl IntoView {
    move || {
        backend.get().map(|(label, why_cpu)| {
            let why = why_cpu.map(|w| format!(" ({w})")).unwrap_or_default();
            view! { <p class="dowse-backend">"Query encoder: " <strong class="dowse-backend-label">{label}</strong>{why}</p> }
        })
    }
}

#[component]
fn LatencyLine(outcome: RwSignal<Option<Outcome>>, rerank_note: RwSignal<RerankNote>) -> impl IntoView {
    move || {
        outcome.get().map(|o| {
            let t = o.timings;
            let rerank = match rerank_note.get() {
                RerankNote::None => String::new(),
                RerankNote::Reranked { model, ms } => format!(" · reranked by {model} in {ms:.0} ms"),
                RerankNote::Fallback(why) => format!(" · rerank failed ({why}): client order shown"),
            };
            let read = if t.unit.is_empty() { String::new() } else { format!(" ({} {})", t.tokens, t.unit) };
            view! {
                <p class="dowse-latency" data-query=o.query.clone() data-tokens=t.tokens data-tokenize-ms=t.tokenize data-encode-ms=t.encode data-search-ms=t.search>
                    {format!(
                        "{} results · tokenize {:.1} ms · encode {:.1} ms{read} · search {:.2} ms{rerank}",
                        o.items.len(),
                        t.tokenize,
                        t.encode,
                        t.search
                    )}
                </p>
            }
        })
    }
}

fn result_view(item: ResultItem) -> impl IntoView {
    let heading = (!item.heading.is_empty()).then(|| view! { <span class="dowse-heading">{format!(" › {}", item.heading)}</span> });
    let title = match item.url {
        Some(url) => view! { <a href=url>{item.title}</a> }.into_any(),
        None => view! { <span>{item.title}</span> }.into_any(),
    };
    view! {
        <li class="dowse-result" data-doc-id=item.doc_id data-passage=item.passage>
            <div class="dowse-title">{title}{heading}<span class="dowse-score">{format!("{:.4}", item.score)}</span></div>
            <p class="dowse-snippet" inner_html=highlighted_html(&item.snippet)></p>
        </li>
    }
}

/// The snippet as HTML: text escaped, query terms in `<mark>`.
fn highlighted_html(snippet: &Snippet) -> String {
    snippet.pieces().into_iter().map(|(piece, term)| if term { format!("<mark>{}</mark>", escape(piece)) } else { escape(piece) }).collect()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[component]
fn EmbeddingMap(engine: StoredValue<Option<Rc<Engine>>, LocalStorage>, outcome: RwSignal<Option<Outcome>>) -> impl IntoView {
    let canvas = NodeRef::<leptos::html::Canvas>::new();
    let hover = RwSignal::new(None::<(f64, f64, String)>);
    Effect::new(move |_| {
        let current = outcome.get();
        let (Some(canvas), Some(engine)) = (canvas.get(), engine.get_value()) else { return };
        let highlighted: Vec<u32> = current.iter().flat_map(|o| o.items.iter().map(|i| i.passage)).collect();
        draw(&canvas, engine.bundle.map.points(), &highlighted, current.and_then(|o| o.point));
    });
    let on_move = move |ev: leptos::ev::MouseEvent| {
        let (Some(canvas), Some(engine)) = (canvas.get(), engine.get_value()) else { return };
        let points = engine.bundle.map.points();
        let frame = Frame::fit(points, f64::from(canvas.width()), f64::from(canvas.height()));
        let scale = f64::from(canvas.width()) / f64::from(canvas.client_width().max(1));
        let (x, y) = (f64::from(ev.offset_x()) * scale, f64::from(ev.offset_y()) * scale);
        let named = frame.nearest(points, x, y).map(|i| {
            let docs = &engine.bundle.docs;
            let passage = &docs.passages[i];
            let title = &docs.documents[passage.doc as usize].title;
            let heading = if passage.heading.is_empty() { String::new() } else { format!(" › {}", passage.heading) };
            (f64::from(ev.offset_x()), f64::from(ev.offset_y()), format!("{title}{heading}"))
        });
        hover.set(named);
    };
    view! {
        <figure class="dowse-map" hidden=move || outcome.get().is_none()>
            <canvas node_ref=canvas width="480" height="320" on:mousemove=on_move on:mouseleave=move |_| hover.set(None)></canvas>
            {move || hover.get().map(|(x, y, title)| {
                view! { <div class="dowse-tip" style=format!("left:{}px;top:{}px", x + 12.0, y + 12.0)>{title}</div> }
            })}
            <figcaption>"Passages on the bundle's two principal axes; results in orange, the query circled in red."</figcaption>
        </figure>
    }
}
