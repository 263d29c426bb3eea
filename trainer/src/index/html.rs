//! HTML pages to documents: the page's main text, cut into sections at h1-h3 so that each
//! passage can link to `page.html#anchor`.
//!
//! The main text is `<main>`, else `<article>`, else `<body>`. Scripts, styles, navigation and
//! anything marked `data-dowse-ignore` are skipped; without `<main>`/`<article>`, so are the
//! page's `<header>`, `<footer>` and `<aside>`. The title is `<title>`, else the first h1,
//! else the file name.
//!
//! Text inside an element with `data-dowse-weight="W"` (0 to 10, as Pagefind's
//! `data-pagefind-weight`) weighs W in BM25 instead of 1, the nearest marked ancestor winning;
//! headings and titles always weigh 1.
//!
//! Filters that a search can keep pages by come from `data-dowse-filter`, written as
//! `data-dowse-meta` is (Pagefind's `data-pagefind-filter`).
//!
//! Metadata that results show beside the title comes from `data-dowse-meta` anywhere on the page,
//! as Pagefind's `data-pagefind-meta` does: a comma-separated list of `key` (the element's text),
//! `key[attribute]` (that attribute's value; a relative `src` or `href` is resolved against the
//! page's folder, as result links are) and `key:value` (the value as written).

use dowse_core::bm25::MAX_WEIGHT;
use dowse_core::passage::{Section, SourceDocument, Weighted};
use scraper::{ElementRef, Html, Node, Selector};

/// Elements whose text is never indexed.
const SKIPPED: [&str; 7] = ["script", "style", "nav", "noscript", "template", "svg", "iframe"];
/// Boilerplate skipped when the page does not mark its main content.
const CHROME: [&str; 3] = ["header", "footer", "aside"];
/// Elements after which words must not run together.
const BLOCKS: [&str; 22] = [
    "p",
    "div",
    "li",
    "ul",
    "ol",
    "br",
    "tr",
    "td",
    "th",
    "table",
    "section",
    "article",
    "main",
    "pre",
    "blockquote",
    "dd",
    "dt",
    "h4",
    "h5",
    "h6",
    "figcaption",
    "hr",
];

/// The `data-dowse-*` attributes dowse reads; any other is reported.
pub const KNOWN_ATTRIBUTES: [&str; 4] = ["data-dowse-filter", "data-dowse-ignore", "data-dowse-meta", "data-dowse-weight"];

/// One page read, with what the indexer should tell its owner.
#[derive(Debug)]
pub struct Page {
    pub document: SourceDocument,
    /// The `data-dowse-*` attributes on the page that dowse does not read, sorted, each once.
    pub unknown_attributes: Vec<String>,
    /// `data-dowse-weight` values that are not a number from 0 to 10, as written (their regions
    /// weigh as if unmarked).
    pub bad_weights: Vec<String>,
}

/// Reads one page; `url` is its path relative to the site root (`guide/install.html`).
pub fn read_page(url: &str, html: &str) -> Page {
    let page = Html::parse_document(html);
    let select = |css: &str| page.select(&Selector::parse(css).expect("valid selector")).next();
    let (root, skip_chrome) = match select("main").or_else(|| select("article")) {
        Some(main) => (main, false),
        None => (select("body").unwrap_or_else(|| page.root_element()), true),
    };
    let title = select("title")
        .or_else(|| select("h1"))
        .map(|e| collapse(&e.text().collect::<String>()))
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| url.rsplit('/').next().unwrap_or(url).to_string());
    let mut walker =
        Walker { url, skip_chrome, sections: vec![Section::default()], weight: 1.0, in_word: false, words: 0, bad_weights: Vec::new() };
    walker.walk(root);
    let bad_weights = walker.bad_weights;
    let sections = walker
        .sections
        .into_iter()
        .map(|s| Section {
            heading: if s.heading == title { String::new() } else { s.heading },
            url: s.url,
            text: collapse(&s.text),
            weights: s.weights,
        })
        .filter(|s| !s.text.is_empty() || !s.heading.is_empty())
        .collect();
    let fields = |attribute: &str| -> Vec<(String, String)> {
        let selector = Selector::parse(&format!("[{attribute}]")).expect("valid selector");
        page.select(&selector).flat_map(|e| fields_of(url, e, attribute)).collect()
    };
    let (meta, filters) = (fields("data-dowse-meta"), fields("data-dowse-filter"));
    let mut unknown: Vec<String> = page
        .root_element()
        .descendants()
        .filter_map(ElementRef::wrap)
        .flat_map(|e| e.value().attrs().map(|(name, _)| name.to_string()).collect::<Vec<_>>())
        .filter(|name| name.starts_with("data-dowse-") && !KNOWN_ATTRIBUTES.contains(&name.as_str()))
        .collect();
    unknown.sort_unstable();
    unknown.dedup();
    let document = SourceDocument { id: url.to_string(), title, url: Some(url.to_string()), sections, meta, filters };
    Page { document, unknown_attributes: unknown, bad_weights }
}

/// The fields one element's `attribute` (`data-dowse-meta` or `data-dowse-filter`) names,
/// skipping those with an empty key or value.
fn fields_of(url: &str, element: ElementRef, attribute: &str) -> Vec<(String, String)> {
    let spec = element.value().attr(attribute).unwrap_or_default();
    let field = |part: &str| -> Option<(String, String)> {
        // Brackets first: an attribute's name may hold a colon (`image[xlink:href]`).
        let (key, value) = match (part.split_once('['), part.split_once(':')) {
            (Some((key, attribute)), _) if attribute.ends_with(']') && !key.contains(':') => {
                let attribute = attribute.strip_suffix(']')?.trim();
                let value = element.value().attr(attribute)?.trim();
                (key, if matches!(attribute, "src" | "href") { resolve(url, value) } else { value.to_string() })
            }
            (_, Some((key, value))) => (key, value.trim().to_string()),
            _ => (part, collapse(&element.text().collect::<String>())),
        };
        let key = key.trim();
        (!key.is_empty() && !value.is_empty()).then(|| (key.to_string(), value))
    };
    spec.split(',').filter_map(|part| field(part.trim())).collect()
}

/// `link` as a result page reaches it: relative to the site root, like the page's own `url`.
fn resolve(url: &str, link: &str) -> String {
    let absolute = link.starts_with('/') || link.starts_with('#') || link.contains("://") || link.starts_with("data:");
    match url.rsplit_once('/') {
        Some((folder, _)) if !absolute => format!("{folder}/{link}"),
        _ => link.to_string(),
    }
}

struct Walker<'a> {
    url: &'a str,
    skip_chrome: bool,
    sections: Vec<Section>,
    /// What the text being walked weighs: the nearest marked ancestor's `data-dowse-weight`.
    weight: f32,
    /// Whether the open section's text ends inside a word.
    in_word: bool,
    /// Whitespace-separated words in the open section's text so far.
    words: u32,
    bad_weights: Vec<String>,
}

impl Walker<'_> {
    /// Appends `text` to the open section, counting its words and recording those that start
    /// while the weight is not 1 (a word weighs what it weighed where it began).
    fn push(&mut self, text: &str) {
        let section = self.sections.last_mut().expect("a section is always open");
        for c in text.chars() {
            if !c.is_whitespace() && !self.in_word {
                if self.weight != 1.0 {
                    let at = self.words;
                    match section.weights.last_mut() {
                        Some(run) if run.words.end == at && run.weight == self.weight => run.words.end += 1,
                        _ => section.weights.push(Weighted { words: at..at + 1, weight: self.weight }),
                    }
                }
                self.words += 1;
            }
            self.in_word = !c.is_whitespace();
        }
        section.text.push_str(text);
    }

    /// `element`'s `data-dowse-weight`, when it has a valid one; a bad one is kept to report.
    fn weight_of(&mut self, element: ElementRef) -> Option<f32> {
        let written = element.value().attr("data-dowse-weight")?;
        let weight = written.trim().parse::<f32>().ok().filter(|w| (0.0..=MAX_WEIGHT).contains(w));
        if weight.is_none() {
            self.bad_weights.push(written.to_string());
        }
        weight
    }

    fn walk(&mut self, element: ElementRef) {
        for child in element.children() {
            match child.value() {
                Node::Text(text) => self.push(text),
                Node::Element(_) => {
                    let child = ElementRef::wrap(child).expect("an element node");
                    let name = child.value().name();
                    if SKIPPED.contains(&name) || child.value().attr("data-dowse-ignore").is_some() {
                        continue;
                    }
                    if self.skip_chrome && CHROME.contains(&name) {
                        continue;
                    }
                    if matches!(name, "h1" | "h2" | "h3") {
                        let heading = collapse(&child.text().collect::<String>());
                        let url = anchor(child).map(|id| format!("{}#{id}", self.url));
                        self.sections.push(Section { heading, url, ..Section::default() });
                        (self.in_word, self.words) = (false, 0);
                        continue;
                    }
                    let outer = self.weight;
                    self.weight = self.weight_of(child).unwrap_or(outer);
                    self.walk(child);
                    self.weight = outer;
                    if BLOCKS.contains(&name) {
                        self.push("\n");
                    }
                }
                _ => {}
            }
        }
    }
}

/// The id a link can jump to for a heading: its own, else one inside it (`<a id>` or `<a name>`).
fn anchor(heading: ElementRef) -> Option<String> {
    let own = heading.value().id().map(str::to_string);
    own.or_else(|| {
        heading
            .descendants()
            .filter_map(ElementRef::wrap)
            .find_map(|e| e.value().id().or_else(|| e.value().attr("name")).map(str::to_string))
    })
}

/// Runs of whitespace to single spaces, trimmed.
fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_follow_headings_and_skip_chrome() {
        let html = r#"<!doctype html><html><head><title>Guide</title><style>p{}</style></head><body>
            <nav>Home | Docs</nav>
            <header>Site banner</header>
            <h1 id="top">Guide</h1><p>Intro <b>text</b>.</p>
            <h2 id="install">Install</h2><p>Run it.</p><script>var x;</script>
            <div data-dowse-ignore><p>Cookie notice</p></div>
            <h3><a name="use">Use</a></h3><ul><li>one</li><li>two</li></ul>
            <h2>No anchor</h2><p>Last.</p>
            <footer>Copyright</footer></body></html>"#;
        let page = read_page("docs/guide.html", html);
        assert!(page.unknown_attributes.is_empty() && page.bad_weights.is_empty());
        let doc = page.document;
        assert_eq!(doc.title, "Guide");
        assert_eq!(doc.url.as_deref(), Some("docs/guide.html"));
        let got: Vec<(&str, Option<&str>, &str)> =
            doc.sections.iter().map(|s| (s.heading.as_str(), s.url.as_deref(), s.text.as_str())).collect();
        assert_eq!(
            got,
            [
                ("", Some("docs/guide.html#top"), "Intro text."),
                ("Install", Some("docs/guide.html#install"), "Run it."),
                ("Use", Some("docs/guide.html#use"), "one two"),
                ("No anchor", None, "Last."),
            ]
        );
    }

    #[test]
    fn meta_comes_from_text_attributes_and_literals() {
        let html = r#"<html><head><title>Post</title><meta data-dowse-meta="date:2026-12-04"></head><body><main>
            <img src="cover.png" alt="A cover" data-dowse-meta="image[src], image_alt[alt]">
            <span data-dowse-meta="author">  Ada   Lovelace </span>
            <img src="/abs.png" data-dowse-meta="icon[src], missing[title], :nokey, empty:">
            <span xml:lang="en-GB" data-dowse-meta="lang[xml:lang], note:see [1]"></span>
            <p>Text.</p></main></body></html>"#;
        let doc = read_page("posts/post.html", html).document;
        let meta: Vec<(&str, &str)> = doc.meta.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            meta,
            [
                ("date", "2026-12-04"),
                ("image", "posts/cover.png"),
                ("image_alt", "A cover"),
                ("author", "Ada Lovelace"),
                ("icon", "/abs.png"),
                ("lang", "en-GB"),
                ("note", "see [1]")
            ]
        );
        assert_eq!(doc.sections[0].text, "Ada Lovelace Text.");
    }

    #[test]
    fn main_element_wins_and_title_falls_back() {
        let html = "<body><p>outside</p><main><h1>Heading</h1><p>inside</p><footer>kept</footer></main></body>";
        let doc = read_page("a/b.html", html).document;
        assert_eq!(doc.title, "Heading");
        assert_eq!(doc.sections.len(), 1);
        assert_eq!(doc.sections[0].text, "inside kept");
        assert_eq!(read_page("x.html", "<p>just text</p>").document.title, "x.html");
    }

    #[test]
    fn unknown_dowse_attributes_are_named_once() {
        let html = r#"<main data-dowse-filters="tag:a"><p data-dowse-sort="2" data-dowse-ignore>x</p>
            <p data-dowse-filter="tag:b" data-dowse-meta="k:v" data-dowse-weight="2" data-dowse-sort="1" data-other="1">y</p></main>"#;
        assert_eq!(read_page("p.html", html).unknown_attributes, ["data-dowse-filters", "data-dowse-sort"]);
    }

    #[test]
    fn filters_are_written_as_metadata_is() {
        let html = r#"<html><head><meta data-dowse-filter="kind:guide"></head><body><main>
            <p>Tags: <span data-dowse-filter="tag">roses</span>, <span data-dowse-filter="tag">pruning</span></p>
            <a href="/winter/" data-dowse-filter="season[href], level:easy, :nokey">winter</a></main></body></html>"#;
        let filters = read_page("p.html", html).document.filters;
        let pairs: Vec<(&str, &str)> = filters.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(pairs, [("kind", "guide"), ("tag", "roses"), ("tag", "pruning"), ("season", "/winter/"), ("level", "easy")]);
    }

    #[test]
    fn weighted_regions_mark_their_words() {
        let html = r#"<title>T</title><main><p>one <b data-dowse-weight="4">two three</b>four</p>
            <div data-dowse-weight="0.5"><p>five <i data-dowse-weight="2">six</i> seven</p>
            <h2>Next</h2><p>eight</p></div><p data-dowse-weight="lots">nine</p><p data-dowse-weight="11">ten</p></main>"#;
        let page = read_page("w.html", html);
        let weighted = |words: std::ops::Range<u32>, weight| Weighted { words, weight };
        let sections: Vec<(&str, &[Weighted])> = page.document.sections.iter().map(|s| (s.text.as_str(), s.weights.as_slice())).collect();
        // "twofour" is one word: it starts in the weighted run. Runs cross a heading into its section.
        assert_eq!(
            sections,
            [
                (
                    "one two threefour five six seven",
                    &[weighted(1..3, 4.0), weighted(3..4, 0.5), weighted(4..5, 2.0), weighted(5..6, 0.5)][..]
                ),
                ("eight nine ten", &[weighted(0..1, 0.5)][..]),
            ]
        );
        assert_eq!(page.bad_weights, ["lots", "11"]);
    }
}
