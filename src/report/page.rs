//! A run's `index.html`: one self-contained page with every figure, table and the commands that made
//! the run, so that a run directory can be read (and printed) from `file://` with nothing else installed.
//!
//! The page uses relative paths only and loads nothing from the network: the CSS is inline, the fonts
//! are the reader's own. Every piece of text given here is HTML-escaped; file paths are percent-encoded
//! in `src`/`href`, so any file name round-trips through [`referenced_files`].

use super::atomic::write_atomic;
use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

/// A whole page: a title, introductory paragraphs and numbered sections (listed in a table of contents).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    pub title: String,
    pub intro: Vec<String>,
    pub sections: Vec<Section>,
}

/// A section under its own heading; it gets the anchor `#section-N` (N from 1) for the table of contents.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Section {
    pub heading: String,
    pub blocks: Vec<Block>,
}

/// One piece of a section. All text is plain text (escaped when rendered); paths are relative to the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    /// A paragraph of plain text (escaped).
    Paragraph(String),
    /// A figure: `src` is a path relative to the page (e.g. "variance_decay.png"); `caption` plain text.
    /// The image links to the full-size file.
    Figure { src: String, caption: String },
    /// A row of labelled images (e.g. one sample strip per strategy): (label, relative src) pairs, then a caption.
    Gallery { items: Vec<(String, String)>, caption: String },
    /// A table: header cells, rows of cells (plain text; cells that parse as numbers are right-aligned), caption.
    Table { header: Vec<String>, rows: Vec<Vec<String>>, caption: String },
    /// Shell commands, one per line, shown verbatim in a `<pre>` block.
    Commands(Vec<String>),
    /// A link to a file or directory of the run (relative href) with its label, e.g. records.csv.
    /// Consecutive links are shown together as one list.
    Link { href: String, label: String },
}

/// Kept inline so the page needs no other file; `@media print` keeps figures and tables whole on paper.
const STYLE: &str = r#"
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { max-width: 1100px; margin: 0 auto; padding: 2rem 1.5rem; background: #fff; color: #1f2328;
  font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
h1 { font-size: 1.9rem; line-height: 1.25; margin: 0 0 1rem; }
h2 { font-size: 1.35rem; line-height: 1.3; margin: 2.5rem 0 0.75rem; padding-bottom: 0.3rem;
  border-bottom: 1px solid #d8dee4; }
p { margin: 0.6rem 0; max-width: 80ch; }
a { color: #0a58ca; }
nav.toc { background: #f6f8fa; border: 1px solid #d8dee4; border-radius: 6px; padding: 0.6rem 1.25rem;
  margin: 1.5rem 0; }
nav.toc h2 { font-size: 1rem; margin: 0 0 0.25rem; padding: 0; border: 0; }
nav.toc ol { margin: 0; padding-left: 1.5rem; }
figure { margin: 1.5rem 0; }
figure img { display: block; max-width: 100%; height: auto; margin: 0 auto; }
figure > a { display: block; }
figcaption { width: fit-content; max-width: 80ch; margin: 0.5rem auto 0; font-size: 0.92rem; color: #3d444d; }
.gallery-items { display: flex; flex-wrap: wrap; gap: 1rem; justify-content: center; align-items: flex-end; }
.gallery-items figure { margin: 0; flex: 1 1 0; min-width: min(100%, 240px); }
.gallery-items figcaption { margin-top: 0.25rem; font-weight: 600; color: #1f2328; }
.table-wrap { overflow-x: auto; margin: 1.5rem 0; }
table { border-collapse: collapse; font-size: 0.9rem; }
caption { caption-side: top; text-align: left; font-size: 0.92rem; color: #3d444d; padding-bottom: 0.4rem; }
th, td { padding: 0.3rem 0.5rem; border-bottom: 1px solid #d8dee4; text-align: left; vertical-align: top; }
thead th { border-bottom: 2px solid #8c959f; font-weight: 600; }
tbody tr:nth-child(even) { background: #f6f8fa; }
th.num, td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
pre.commands { background: #f6f8fa; border: 1px solid #d8dee4; border-radius: 6px; padding: 0.75rem 1rem;
  margin: 1rem 0; white-space: pre-wrap; overflow-wrap: anywhere;
  font: 0.88rem/1.5 ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; }
pre.commands .cmd { display: block; padding-left: 2ch; text-indent: -2ch; }
pre.commands .nb { white-space: nowrap; }
ul.files { padding-left: 1.5rem; }
footer { margin-top: 3rem; padding-top: 0.75rem; color: #656d76; font-size: 0.85rem; border-top: 1px solid #d8dee4; }
@media print {
  body { max-width: none; padding: 0; font-size: 11pt; }
  a { color: inherit; text-decoration: none; }
  ul.files li.named a::after { content: " (" attr(href) ")"; color: #656d76; }
  figure, pre, tr, nav.toc { break-inside: avoid; }
  h2 { break-after: avoid; }
  .table-wrap { overflow: visible; }
  pre.commands { background: none; }
  footer { margin-top: 1rem; }
}
"#;

/// The whole page as HTML text.
///
/// The result depends only on `page` (and the crate version in the footer), so it can be compared
/// byte for byte with a written `index.html`.
///
/// ```rust
/// use flowcollapse::report::page::{referenced_files, render, Block, Page, Section};
///
/// let page = Page {
///     title: "Variance <decay>".into(),
///     intro: vec!["Ten generations of a Gaussian.".into()],
///     sections: vec![Section {
///         heading: "Figures".into(),
///         blocks: vec![
///             Block::Figure { src: "variance_decay.png".into(), caption: "Variance per generation.".into() },
///             Block::Commands(vec!["flowcollapse gaussian --out run".into()]),
///         ],
///     }],
/// };
/// let html = render(&page);
/// assert!(html.contains("<h1>Variance &lt;decay&gt;</h1>"));
/// assert!(html.contains(r##"<a href="#section-1">Figures</a>"##));
/// assert_eq!(referenced_files(&html), ["variance_decay.png"]);
/// ```
pub fn render(page: &Page) -> String {
    let mut out = String::with_capacity(8192);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(out, "<meta name=\"generator\" content=\"flowcollapse {}\">", env!("CARGO_PKG_VERSION"));
    let _ = writeln!(out, "<title>{}</title>", escape(&page.title));
    let _ = writeln!(out, "<style>{STYLE}</style>\n</head>\n<body>\n<main>");
    let _ = writeln!(out, "<h1>{}</h1>", escape(&page.title));
    for paragraph in &page.intro {
        let _ = writeln!(out, "<p>{}</p>", escape(paragraph));
    }
    if !page.sections.is_empty() {
        out.push_str("<nav class=\"toc\">\n<h2>Contents</h2>\n<ol>\n");
        for (i, section) in page.sections.iter().enumerate() {
            let _ = writeln!(out, "<li><a href=\"#section-{}\">{}</a></li>", i + 1, escape(&section.heading));
        }
        out.push_str("</ol>\n</nav>\n");
    }
    for (i, section) in page.sections.iter().enumerate() {
        let _ = writeln!(out, "<section id=\"section-{}\">\n<h2>{}</h2>", i + 1, escape(&section.heading));
        render_blocks(&mut out, &section.blocks);
        out.push_str("</section>\n");
    }
    out.push_str("</main>\n");
    let _ = writeln!(out, "<footer>made by flowcollapse {}</footer>", env!("CARGO_PKG_VERSION"));
    out.push_str("</body>\n</html>\n");
    out
}

fn render_blocks(out: &mut String, blocks: &[Block]) {
    let mut in_files = false;
    for block in blocks {
        let is_link = matches!(block, Block::Link { .. });
        if in_files && !is_link {
            out.push_str("</ul>\n");
        } else if !in_files && is_link {
            out.push_str("<ul class=\"files\">\n");
        }
        in_files = is_link;
        match block {
            Block::Paragraph(text) => {
                let _ = writeln!(out, "<p>{}</p>", escape(text));
            }
            Block::Figure { src, caption } => {
                let (href, alt) = (url_attr(src), escape(caption));
                let _ = writeln!(out, "<figure>\n<a href=\"{href}\"><img src=\"{href}\" alt=\"{alt}\"></a>");
                caption_line(out, "figcaption", caption);
                out.push_str("</figure>\n");
            }
            Block::Gallery { items, caption } => {
                out.push_str("<figure class=\"gallery\">\n<div class=\"gallery-items\">\n");
                for (label, src) in items {
                    let (href, label) = (url_attr(src), escape(label));
                    let _ = writeln!(
                        out,
                        "<figure><a href=\"{href}\"><img src=\"{href}\" alt=\"{label}\"></a>\
                         <figcaption>{label}</figcaption></figure>"
                    );
                }
                out.push_str("</div>\n");
                caption_line(out, "figcaption", caption);
                out.push_str("</figure>\n");
            }
            Block::Table { header, rows, caption } => render_table(out, header, rows, caption),
            Block::Commands(lines) => {
                // One block-level span per command: a wrapped command gets a hanging indent, so it
                // cannot be mistaken for two; the newline keeps copy-and-paste verbatim.
                out.push_str("<pre class=\"commands\"><code>");
                for line in lines {
                    out.push_str("<span class=\"cmd\">");
                    push_command(out, line);
                    out.push_str("\n</span>");
                }
                out.push_str("</code></pre>\n");
            }
            Block::Link { href, label } => {
                // On paper the path is printed after a label that does not already say it.
                let class =
                    if href.trim_end_matches('/') == label.trim_end_matches('/') { "" } else { " class=\"named\"" };
                let _ = writeln!(out, "<li{class}><a href=\"{}\">{}</a></li>", url_attr(href), escape(label));
            }
        }
    }
    if in_files {
        out.push_str("</ul>\n");
    }
}

/// A command, escaped, with each short token that contains punctuation kept on one line: a wrap inside
/// `--flag` or `a/b` reads like a space that is not there. Longer tokens may still wrap anywhere.
fn push_command(out: &mut String, line: &str) {
    let mut rest = line;
    while !rest.is_empty() {
        let space = rest.find(|c: char| !c.is_whitespace()).unwrap_or(rest.len());
        out.push_str(&escape(&rest[..space]));
        rest = &rest[space..];
        let word = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let token = &rest[..word];
        if token.chars().count() <= 40 && token.chars().any(|c| !c.is_alphanumeric()) {
            let _ = write!(out, "<span class=\"nb\">{}</span>", escape(token));
        } else {
            out.push_str(&escape(token));
        }
        rest = &rest[word..];
    }
}

fn caption_line(out: &mut String, tag: &str, caption: &str) {
    if !caption.trim().is_empty() {
        let _ = writeln!(out, "<{tag}>{}</{tag}>", escape(caption));
    }
}

fn render_table(out: &mut String, header: &[String], rows: &[Vec<String>], caption: &str) {
    let width = rows.iter().map(Vec::len).chain([header.len()]).max().unwrap_or(0);
    // A column whose non-empty cells are all numbers gets a right-aligned header too.
    let numeric_column: Vec<bool> = (0..width)
        .map(|c| {
            let mut cells = rows.iter().filter_map(|r| r.get(c)).filter(|s| !s.trim().is_empty()).peekable();
            cells.peek().is_some() && cells.all(|s| is_numeric(s))
        })
        .collect();
    out.push_str("<div class=\"table-wrap\">\n<table>\n");
    caption_line(out, "caption", caption);
    if !header.is_empty() {
        out.push_str("<thead><tr>");
        for (c, &numeric) in numeric_column.iter().enumerate() {
            let text = header.get(c).map(String::as_str).unwrap_or("");
            let class = if numeric { " class=\"num\"" } else { "" };
            let _ = write!(out, "<th scope=\"col\"{class}>{}</th>", escape(text));
        }
        out.push_str("</tr></thead>\n");
    }
    out.push_str("<tbody>\n");
    for row in rows {
        out.push_str("<tr>");
        for c in 0..width {
            let text = row.get(c).map(String::as_str).unwrap_or("");
            let class = if is_numeric(text) { " class=\"num\"" } else { "" };
            let _ = write!(out, "<td{class}>{}</td>", escape(text));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</div>\n");
}

/// Whether a table cell reads as a number: anything `f64` parses (a Unicode minus allowed), optionally
/// followed by `%`, or `a ± b` with two such numbers. Right-aligned so that digits line up.
fn is_numeric(cell: &str) -> bool {
    fn number(s: &str) -> bool {
        let s = s.trim().replace('\u{2212}', "-");
        !s.is_empty() && s.parse::<f64>().is_ok()
    }
    let cell = cell.trim();
    if let Some((value, error)) = cell.split_once('±') {
        return number(value) && number(error);
    }
    number(cell.strip_suffix('%').unwrap_or(cell))
}

/// Write `dir/index.html` atomically (use `crate::report::atomic::write_atomic`, see src/report/atomic.rs).
///
/// A reader never sees half a page. `dir` must exist; returns the path written.
pub fn write(dir: &Path, page: &Page) -> io::Result<PathBuf> {
    let path = dir.join("index.html");
    write_atomic(&path, render(page).as_bytes())?;
    Ok(path)
}

/// Every relative path the HTML references (img src and a href values that are not absolute URLs or #anchors), in order of appearance, unescaped.
///
/// Each path is listed once, at its first appearance (a figure's image and its link count once).
/// "Unescaped" means HTML entities and percent-encoding are decoded, and a `?query` or `#fragment` is
/// dropped, so the result is the file path as given to [`Block`]. Absolute URLs are those with a scheme
/// (`http:`, `https:`, `mailto:`, `data:`, …) or starting with `//`. Works on any HTML, not only
/// [`render`]'s: `<script>`, `<style>` and comments are skipped.
pub fn referenced_files(html: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for (tag, attr, value) in tag_attributes(html) {
        let wanted = (tag.eq_ignore_ascii_case("img") && attr.eq_ignore_ascii_case("src"))
            || (tag.eq_ignore_ascii_case("a") && attr.eq_ignore_ascii_case("href"));
        if !wanted {
            continue;
        }
        let value = unescape(&value);
        let value = value.trim();
        if value.is_empty() || value.starts_with('#') || is_absolute_url(value) {
            continue;
        }
        let path = value.split(['?', '#']).next().unwrap_or("");
        if path.is_empty() {
            continue;
        }
        let path = percent_decode(path);
        if !found.contains(&path) {
            found.push(path);
        }
    }
    found
}

/// The referenced files that do not exist under `dir` (an empty Vec means the page is complete).
///
/// Paths are resolved against `dir` as a browser resolves them against the page; directories count
/// as existing files. Listed once each, in order of first appearance.
pub fn missing_files(dir: &Path, html: &str) -> Vec<String> {
    referenced_files(html).into_iter().filter(|p| !dir.join(p).exists()).collect()
}

/// Text as HTML: `& < > " '` escaped, safe both in element content and in double-quoted attributes.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A `src`/`href` attribute value. Web URLs (`scheme://…`, `//host…`, `mailto:…`) and `#anchors` pass
/// through (escaped); anything else is a file path, percent-encoded so that spaces, `#`, `?`, `%` or `:`
/// in a file name stay part of the name (`notes:v2.txt` is a file, not a URL with scheme `notes`).
fn url_attr(target: &str) -> String {
    let web = target.starts_with('#')
        || target.starts_with("mailto:")
        || target.split_once("://").is_some_and(|(scheme, _)| is_scheme(scheme));
    if web || target.starts_with("//") {
        return escape(target);
    }
    let mut out = String::with_capacity(target.len());
    for &b in target.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// `scheme:` (RFC 3986: a letter, then letters, digits, `+`, `-`, `.`) or a network path `//host`.
fn is_absolute_url(s: &str) -> bool {
    if s.starts_with("//") {
        return true;
    }
    s.split_once(':').is_some_and(|(scheme, _)| is_scheme(scheme))
}

fn is_scheme(scheme: &str) -> bool {
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    char::from(b).to_digit(16).map(|d| d as u8)
}

/// Decode character references: the five that [`escape`] writes, `&apos;`, `&nbsp;` and numeric ones.
/// Anything else is left as written.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let decoded = rest.find(';').filter(|&semi| semi <= 12).and_then(|semi| {
            let name = &rest[1..semi];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some('\u{a0}'),
                _ => {
                    let code = if let Some(hex) = name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
                        u32::from_str_radix(hex, 16).ok()
                    } else {
                        name.strip_prefix('#').and_then(|dec| dec.parse().ok())
                    };
                    code.and_then(char::from_u32)
                }
            };
            c.map(|c| (c, semi + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Every (tag name, attribute name, raw attribute value) of the start tags in `html`, in order.
/// A small tokenizer, enough for well-formed pages: comments, `<!…>` declarations and the raw text of
/// `<script>`/`<style>` are skipped.
fn tag_attributes(html: &str) -> Vec<(String, String, String)> {
    let b = html.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while let Some(off) = html[i..].find('<') {
        let start = i + off;
        let rest = &html[start..];
        if rest.starts_with("<!--") {
            i = rest.find("-->").map_or(html.len(), |e| start + e + 3);
            continue;
        }
        let name_len = rest[1..].bytes().take_while(|c| c.is_ascii_alphanumeric()).count();
        if name_len == 0 || !b[start + 1].is_ascii_alphabetic() {
            // An end tag, a declaration or a stray '<': skip to the closing '>' if it is a tag at all.
            i = if matches!(b.get(start + 1), Some(b'/' | b'!' | b'?')) {
                rest.find('>').map_or(html.len(), |e| start + e + 1)
            } else {
                start + 1
            };
            continue;
        }
        let tag = &rest[1..1 + name_len];
        let mut j = start + 1 + name_len;
        loop {
            while j < b.len() && (b[j].is_ascii_whitespace() || b[j] == b'/') {
                j += 1;
            }
            if j >= b.len() || b[j] == b'>' {
                j += 1;
                break;
            }
            let name_start = j;
            while j < b.len() && !b[j].is_ascii_whitespace() && !matches!(b[j], b'=' | b'>' | b'/') {
                j += 1;
            }
            let attr = &html[name_start..j];
            while j < b.len() && b[j].is_ascii_whitespace() {
                j += 1;
            }
            let mut value = String::new();
            if j < b.len() && b[j] == b'=' {
                j += 1;
                while j < b.len() && b[j].is_ascii_whitespace() {
                    j += 1;
                }
                if j < b.len() && (b[j] == b'"' || b[j] == b'\'') {
                    let quote = char::from(b[j]);
                    let end = html[j + 1..].find(quote).map_or(html.len(), |e| j + 1 + e);
                    value = html[j + 1..end].to_string();
                    j = (end + 1).min(html.len());
                } else {
                    let value_start = j;
                    while j < b.len() && !b[j].is_ascii_whitespace() && b[j] != b'>' {
                        j += 1;
                    }
                    value = html[value_start..j].to_string();
                }
            }
            found.push((tag.to_string(), attr.to_string(), value));
        }
        i = j.min(html.len());
        if tag.eq_ignore_ascii_case("script") || tag.eq_ignore_ascii_case("style") {
            let close = format!("</{}", tag.to_ascii_lowercase());
            i = html[i..].to_ascii_lowercase().find(&close).map_or(html.len(), |e| i + e);
        }
    }
    found
}
