//! The page, progressive: keyword results as soon as the bundle's root and the query's fragments
//! arrive; then the query encoder loads in its worker (with progress); when it is ready the list
//! upgrades to the chosen semantic mode, held back while the pointer is on the list so nothing
//! jumps under it. It searches as the user types, shows the results with their latency and the
//! bytes each query fetched, reranks through the server when asked, and draws the embedding map.
//!
//! When the documents carry filters, each filter's values show as checkboxes with how many of
//! the best results carry them; checking values keeps documents with any checked value of a
//! filter, for every filter checked.
//!
//! For tests and tooling the root element carries `data-state` (`loading`, `ready`, `error`),
//! `data-semantic` (`loading`, `ready`, `error`) and `data-backend` (`WebGPU`, `CPU`); the
//! latency line carries the mode searched, the filters, each step's milliseconds and the bytes
//! fetched.

use std::rc::Rc;
use std::time::Duration;

use dowse_core::filters::Filters;
use dowse_core::search::{Mode, SearchOptions};
use dowse_web::browser::now_ms;
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::JsCast;

use crate::engine::{Engine, Outcome, ResultItem};
use crate::map::{draw, Frame};
use crate::rerank::{self, RERANK_DEPTH};
use crate::settings::{share_query, Settings};

/// Results shown.
const K: usize = 10;
/// Quiet time after a keystroke before searching.
const DEBOUNCE: Duration = Duration::from_millis(150);

#[derive(Debug, Clone, PartialEq)]
enum Status {
    Loading,
    Ready,
    Failed(String),
}

/// The query encoder, which semantic modes wait for.
#[derive(Debug, Clone, PartialEq)]
enum Semantic {
    Loading { done: u64, total: u64 },
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
    let status = RwSignal::new(Status::Loading);
    let semantic = RwSignal::new(Semantic::Loading { done: 0, total: 0 });
    let map_ready = RwSignal::new(false);
    let pointer_on_list = RwSignal::new(false);
    let held = StoredValue::new(None::<(Outcome, RerankNote)>);
    let backend = RwSignal::new(None::<(&'static str, Option<String>)>);
    let query = RwSignal::new(settings.query.clone());
    let mode = RwSignal::new(Mode::Hybrid);
    let filters = RwSignal::new(Filters::new());
    let outcome = RwSignal::new(None::<Outcome>);
    let search_error = RwSignal::new(None::<String>);
    let reranker = RwSignal::new(None::<String>);
    let rerank_on = RwSignal::new(false);
    let rerank_note = RwSignal::new(RerankNote::None);
    let engine = StoredValue::new_local(None::<Rc<Engine>>);
    let latest = StoredValue::new(0u64);
    let pending = StoredValue::new_local(None::<TimeoutHandle>);
    let api = settings.api.clone();

    // One search of what the box holds, to the list on screen.
    let search = {
        let api = api.clone();
        move || {
            let api = api.clone();
            async move {
                let Some(engine) = engine.get_value() else { return };
                let typed = query.get_untracked();
                let text = typed.trim().to_string();
                // A word the text ends in (no space or punctuation after it) may be unfinished: it
                // matches as a prefix. "roses." is finished; "pru" may become "pruning".
                let prefix = typed.ends_with(char::is_alphanumeric);
                let ticket = latest.get_value() + 1;
                latest.set_value(ticket);
                share_query(&text);
                if text.is_empty() {
                    outcome.set(None);
                    return;
                }
                let rerank_with = rerank_on.get_untracked().then(|| reranker.get_untracked()).flatten();
                let depth = if rerank_with.is_some() { RERANK_DEPTH } else { K };
                let options = SearchOptions {
                    k: depth,
                    mode: mode.get_untracked(),
                    prefix,
                    filters: filters.get_untracked(),
                    ..SearchOptions::default()
                };
                let result = engine.search(&text, options).await;
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
                if latest.get_value() != ticket {
                    return;
                }
                found.items.truncate(K);
                // An upgrade of the list on screen (same query, same filters, better mode) waits
                // until the pointer leaves it.
                let upgrade = outcome.with_untracked(|o| o.as_ref().is_some_and(|o| o.query == found.query && o.filters == found.filters));
                if upgrade && pointer_on_list.get_untracked() {
                    held.set_value(Some((found, note)));
                } else {
                    held.set_value(None);
                    rerank_note.set(note);
                    outcome.set(Some(found));
                }
            }
        }
    };
    let run_search = {
        let search = search.clone();
        move || spawn_local(search())
    };

    {
        let settings = settings.clone();
        spawn_local(async move {
            let ready = match Engine::open(&settings.bundle, &settings.app).await {
                Ok(opened) => Rc::new(opened),
                Err(e) => return status.set(Status::Failed(e)),
            };
            engine.set_value(Some(ready.clone()));
            status.set(Status::Ready);
            // The first keyword results come first: the query encoder (its worker's module and
            // the model, megabytes) starts downloading once they are on screen, and the map,
            // which places the query's vector, once the hybrid results are.
            search().await;
            let progress = move |done, total| semantic.set(Semantic::Loading { done, total });
            match ready.load_encoder(settings.backend, &progress).await {
                Ok(loaded) => {
                    backend.set(Some(loaded));
                    semantic.set(Semantic::Ready);
                    if mode.get_untracked().is_dense() {
                        search().await;
                    }
                }
                Err(e) => semantic.set(Semantic::Failed(e)),
            }
            if ready.load_map().await.is_ok() {
                map_ready.set(true);
            }
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

    // Keys, Pagefind's way: the arrows walk from the box through the results' titles and back,
    // Enter follows the focused link (the browser's own), Escape clears the search.
    let root = NodeRef::<leptos::html::Div>::new();
    let input = NodeRef::<leptos::html::Input>::new();
    let on_key = {
        let run_search = run_search.clone();
        move |ev: leptos::ev::KeyboardEvent| {
            let (Some(root), Some(input)) = (root.get(), input.get()) else { return };
            let targets: Vec<web_sys::HtmlElement> = match root.query_selector_all(".dowse-target") {
                Ok(list) => (0..list.length()).filter_map(|i| list.item(i)?.dyn_into().ok()).collect(),
                Err(_) => return,
            };
            let focused = document().active_element();
            let at = targets.iter().position(|t| focused.as_ref() == Some(t.as_ref()));
            let go = match (ev.key().as_str(), at) {
                ("ArrowDown", None) => targets.first(),
                ("ArrowDown", Some(i)) => targets.get(i + 1),
                ("ArrowUp", Some(0)) => Some(input.as_ref()),
                ("ArrowUp", Some(i)) => targets.get(i - 1),
                ("Escape", _) => {
                    query.set(String::new());
                    run_search();
                    Some(input.as_ref())
                }
                _ => None,
            };
            if let Some(element) = go {
                ev.prevent_default();
                let _ = element.focus();
            }
        }
    };

    let state = move || match status.get() {
        Status::Ready => "ready",
        Status::Failed(_) => "error",
        Status::Loading => "loading",
    };
    let semantic_state = move || match semantic.get() {
        Semantic::Ready => "ready",
        Semantic::Failed(_) => "error",
        Semantic::Loading { .. } => "loading",
    };
    // The filters' values, each a checkbox with how many of the best results carry it.
    let facets = {
        let run_search = run_search.clone();
        move || {
            let facets = outcome.get().and_then(|o| o.facets).filter(|facets| !facets.is_empty())?;
            let groups = facets.into_iter().map(|(key, values)| {
                let boxes = values.into_iter().map(|counted| {
                    let (key, value) = (key.clone(), counted.value.clone());
                    let checked = filters.with_untracked(|f| f.get(&key).is_some_and(|wanted| wanted.contains(&value)));
                    let run_search = run_search.clone();
                    let on_change = move |ev| {
                        filters.update(|f| toggle(f, &key, &value, event_target_checked(&ev)));
                        run_search();
                    };
                    view! {
                        <label class="dowse-facet-value" class:dowse-zero=counted.count == 0>
                            <input type="checkbox" prop:checked=checked on:change=on_change />
                            <span class="dowse-value">{counted.value}</span>
                            <span class="dowse-count">{counted.count}</span>
                        </label>
                    }
                });
                let (boxes, legend) = (boxes.collect_view(), key.clone());
                view! { <fieldset class="dowse-facet" data-key=key><legend>{legend}</legend>{boxes}</fieldset> }
            });
            Some(view! { <div class="dowse-facets" role="group" aria-label="Filters">{groups.collect_view()}</div> })
        }
    };
    let release = move |_| {
        pointer_on_list.set(false);
        if let Some((found, note)) = held.get_value() {
            held.set_value(None);
            rerank_note.set(note);
            outcome.set(Some(found));
        }
    };
    view! {
        <div class="dowse" node_ref=root on:keydown=on_key data-state=state data-semantic=semantic_state data-backend=move || backend.get().map(|b| b.0).unwrap_or_default()>
            <div class="dowse-bar" role="search">
                <input
                    class="dowse-query"
                    type="search"
                    placeholder="Search"
                    aria-label="Search this site"
                    autofocus
                    node_ref=input
                    prop:value=move || query.get()
                    on:input=on_input
                    disabled=move || status.get() != Status::Ready
                />
                <select class="dowse-mode" aria-label="Search mode" on:change=on_mode>
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
                Status::Loading => view! { <p class="dowse-status">"Loading the search index…"</p> }.into_any(),
                Status::Failed(message) => view! { <p class="dowse-error" role="alert">{message}</p> }.into_any(),
                Status::Ready => ().into_any(),
            }}
            {move || match semantic.get() {
                Semantic::Loading { done, total } if status.get() == Status::Ready => view! {
                    <p class="dowse-status dowse-semantic">
                        {format!("Keyword results; semantic search is loading ({} of {})…", megabytes(done), megabytes(total))}
                        <progress aria-label="Semantic search loading" max=total.max(1) value=done></progress>
                    </p>
                }
                .into_any(),
                Semantic::Failed(message) => view! { <p class="dowse-error" role="alert">{format!("Keyword results only: {message}")}</p> }.into_any(),
                _ => ().into_any(),
            }}
            <BackendLine backend=backend />
            {move || search_error.get().map(|e| view! { <p class="dowse-error" role="alert">{e}</p> })}
            <LatencyLine outcome=outcome rerank_note=rerank_note />
            {facets}
            <ol class="dowse-results" aria-label="Results" on:mouseenter=move |_| pointer_on_list.set(true) on:mouseleave=release>
                {move || outcome.get().map(|o| o.items.into_iter().map(result_view).collect_view())}
            </ol>
            <EmbeddingMap engine=engine outcome=outcome map_ready=map_ready />
        </div>
    }
}

/// `filters` with `value` of `key` wanted (`on`) or not; a key left with no value is dropped.
fn toggle(filters: &mut Filters, key: &str, value: &str, on: bool) {
    let values = filters.entry(key.to_string()).or_default();
    values.retain(|v| v != value);
    if on {
        values.push(value.to_string());
    }
    if values.is_empty() {
        filters.remove(key);
    }
}

/// Reorders `found` by the server's scores; on any failure leaves it as is and says why.
async fn rerank_items(api: &str, found: &mut Outcome, model: String) -> RerankNote {
    let start = now_ms();
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
            RerankNote::Reranked { model, ms: now_ms() - start }
        }
        Err(e) => RerankNote::Fallback(e),
    }
}

/// The filters as `key=value&key=value`, for tests and tooling.
fn filters_label(filters: &Filters) -> String {
    filters.iter().flat_map(|(key, values)| values.iter().map(move |value| format!("{key}={value}"))).collect::<Vec<_>>().join("&")
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
            let fetched = if t.fetched == 0 { "nothing fetched".to_string() } else { format!("{:.1} kB fetched", t.fetched as f64 / 1e3) };
            view! {
                <p class="dowse-latency" role="status" data-query=o.query.clone() data-mode=o.mode.name() data-filters=filters_label(&o.filters) data-tokens=t.tokens data-tokenize-ms=t.tokenize data-encode-ms=t.encode data-search-ms=t.search data-fetched-bytes=t.fetched>
                    {format!(
                        "{} {} results · tokenize {:.1} ms · encode {:.1} ms{read} · search {:.2} ms ({fetched}){rerank}",
                        o.items.len(),
                        o.mode.name(),
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
    // The title is what the arrow keys focus: a link, or the bare title when there is no URL.
    let title = match item.url {
        Some(url) => view! { <a class="dowse-target" href=url>{item.title}</a> }.into_any(),
        None => view! { <span class="dowse-target" tabindex="0">{item.title}</span> }.into_any(),
    };
    // The page's metadata: an `image` (with `image_alt`) beside the text, the other fields in a line.
    let field = |key: &str| item.meta.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    let image =
        field("image").map(|src| view! { <img class="dowse-image" src=src alt=field("image_alt").unwrap_or_default() loading="lazy" /> });
    let fields: Vec<_> = item
        .meta
        .iter()
        .filter(|(key, _)| key != "image" && key != "image_alt")
        .map(|(key, value)| view! { <span class="dowse-field" data-key=key.clone()>{value.clone()}</span> })
        .collect();
    let fields = (!fields.is_empty()).then(|| view! { <p class="dowse-fields">{fields}</p> });
    view! {
        <li class="dowse-result" data-doc-id=item.doc_id data-passage=item.passage>
            {image}
            <div class="dowse-title">{title}{heading}<span class="dowse-score">{format!("{:.4}", item.score)}</span></div>
            {fields}
            <p class="dowse-snippet" inner_html=item.snippet.html()></p>
        </li>
    }
}

#[component]
fn EmbeddingMap(
    engine: StoredValue<Option<Rc<Engine>>, LocalStorage>,
    outcome: RwSignal<Option<Outcome>>,
    map_ready: RwSignal<bool>,
) -> impl IntoView {
    let canvas = NodeRef::<leptos::html::Canvas>::new();
    let hover = RwSignal::new(None::<(f64, f64, String)>);
    let map = move || engine.get_value().and_then(|engine| engine.map());
    Effect::new(move |_| {
        let current = outcome.get();
        map_ready.track();
        let (Some(canvas), Some(map)) = (canvas.get(), map()) else { return };
        let highlighted: Vec<u32> = current.iter().flat_map(|o| o.items.iter().map(|i| i.passage)).collect();
        draw(&canvas, map.points(), &highlighted, current.and_then(|o| o.point));
    });
    let on_move = move |ev: leptos::ev::MouseEvent| {
        let (Some(canvas), Some(engine), Some(map)) = (canvas.get(), engine.get_value(), map()) else { return };
        let points = map.points();
        let frame = Frame::fit(points, f64::from(canvas.width()), f64::from(canvas.height()));
        let scale = f64::from(canvas.width()) / f64::from(canvas.client_width().max(1));
        let (x, y) = (f64::from(ev.offset_x()) * scale, f64::from(ev.offset_y()) * scale);
        // A passage's title shows where its text has been fetched (the results' and their neighbours').
        let named = frame.nearest(points, x, y).and_then(|i| engine.passage_title(i as u32));
        hover.set(named.map(|title| (f64::from(ev.offset_x()), f64::from(ev.offset_y()), title)));
    };
    view! {
        <figure class="dowse-map" hidden=move || outcome.get().is_none() || !map_ready.get()>
            <canvas node_ref=canvas width="480" height="320" aria-hidden="true" on:mousemove=on_move on:mouseleave=move |_| hover.set(None)></canvas>
            {move || hover.get().map(|(x, y, title)| {
                view! { <div class="dowse-tip" style=format!("left:{}px;top:{}px", x + 12.0, y + 12.0)>{title}</div> }
            })}
            <figcaption>"Passages on the bundle's two principal axes; results in orange, the query circled in red."</figcaption>
        </figure>
    }
}
