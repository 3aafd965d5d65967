//! The run's `index.html`: escaped text, exact file references, completeness checks, aligned numbers,
//! and an atomic write that matches `render`.

use std::fs;
use std::path::Path;

use flowcollapse::report::page::{missing_files, referenced_files, render, write, Block, Page, Section};

const NASTY: &str = "<script>&\"'";
const NASTY_ESCAPED: &str = "&lt;script&gt;&amp;&quot;&#39;";

fn figure(src: &str, caption: &str) -> Block {
    Block::Figure { src: src.into(), caption: caption.into() }
}

fn link(href: &str, label: &str) -> Block {
    Block::Link { href: href.into(), label: label.into() }
}

/// A page whose files are `files` (figures, a gallery and links, in that order) plus links that are not
/// files: anchors and absolute URLs.
fn page_with_files(files: &[&str]) -> Page {
    let (figures, rest) = files.split_at(2);
    let (gallery, links) = rest.split_at(2);
    let mut blocks: Vec<Block> = figures.iter().map(|f| figure(f, "a figure")).collect();
    blocks.push(Block::Gallery {
        items: gallery.iter().enumerate().map(|(i, f)| (format!("strategy {i}"), f.to_string())).collect(),
        caption: "one strip per strategy".into(),
    });
    blocks.push(link("#section-1", "back to the figures"));
    blocks.push(link("https://example.org/paper.pdf", "the paper"));
    blocks.push(link("http://example.org/", "home"));
    blocks.push(link("//example.org/x.png", "network path"));
    blocks.extend(links.iter().map(|f| link(f, f)));
    Page {
        title: "Run".into(),
        intro: vec!["Files of one run.".into()],
        sections: vec![
            Section { heading: "Figures".into(), blocks },
            Section { heading: "Again".into(), blocks: vec![figure(files[0], "the first figure, again")] },
        ],
    }
}

/// Odd but legal file names: spaces, `#`, `?`, `%`, `&`, quotes, non-ASCII, a colon, a directory.
const FILES: [&str; 7] = [
    "variance_decay.png",
    "figures/fig #1 (100% done?).png",
    "samples/fresh strip.png",
    "samples/it's \"naïve\" & <odd>.png",
    "records.csv",
    "notes:v2.txt",
    "checkpoints",
];

/// (attributes, inner text) of every `<tag …>…</tag>` in `html`, in order.
fn elements<'a>(html: &'a str, tag: &str) -> Vec<(&'a str, &'a str)> {
    let (open, close) = (format!("<{tag}"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find(&open) {
        rest = &rest[at + open.len()..];
        if !rest.starts_with([' ', '>']) {
            continue;
        }
        let gt = rest.find('>').expect("tag ends");
        let end = rest.find(&close).expect("element closes");
        out.push((&rest[..gt], &rest[gt + 1..end]));
        rest = &rest[end..];
    }
    out
}

#[test]
fn text_is_escaped_everywhere_and_never_raw() {
    let page = Page {
        title: format!("title {NASTY}"),
        intro: vec![format!("intro {NASTY}")],
        sections: vec![Section {
            heading: format!("heading {NASTY}"),
            blocks: vec![
                Block::Paragraph(format!("paragraph {NASTY}")),
                figure("a.png", &format!("caption {NASTY}")),
                Block::Gallery { items: vec![(format!("label {NASTY}"), "b.png".into())], caption: NASTY.into() },
                Block::Table {
                    header: vec![format!("header {NASTY}")],
                    rows: vec![vec![format!("cell {NASTY}")]],
                    caption: format!("table {NASTY}"),
                },
                Block::Commands(vec![format!("echo {NASTY}")]),
                link("c.csv", &format!("link {NASTY}")),
            ],
        }],
    };
    let html = render(&page);
    assert!(!html.contains("<script"), "raw <script in the page");
    assert!(!html.contains("&\"'"), "raw &\"' in the page");
    // title ×2 (<title>, <h1>), intro, heading ×2 (contents, <h2>), paragraph, figure caption + alt,
    // gallery label ×2 (alt, label) + caption, header, cell, table caption, command, link label.
    assert_eq!(html.matches(NASTY_ESCAPED).count(), 16, "{html}");
    assert!(html.contains(&format!("<h1>title {NASTY_ESCAPED}</h1>")));
    assert!(html.contains(&format!("<title>title {NASTY_ESCAPED}</title>")));
    assert!(html.contains(&format!(">cell {NASTY_ESCAPED}</td>")));
}

#[test]
fn referenced_files_are_exactly_the_figure_gallery_and_link_paths() {
    let html = render(&page_with_files(&FILES));
    // The first figure appears twice (and each figure is both a link and an image): listed once each.
    assert_eq!(referenced_files(&html), FILES);
    // The anchors and URLs really are on the page; they are skipped, not lost.
    for anchor in ["href=\"#section-1\"", "href=\"#section-2\"", "href=\"https://example.org/paper.pdf\""] {
        assert!(html.contains(anchor), "{anchor} missing");
    }
    assert!(html.contains("href=\"http://example.org/\""));
    // File names are percent-encoded in attributes, so '#', '?' and '%' stay part of the name.
    assert!(html.contains("src=\"figures/fig%20%231%20%28100%25%20done%3F%29.png\""), "{html}");
}

#[test]
fn referenced_files_reads_handwritten_html() {
    let html = r##"<!DOCTYPE html><html><head><style>a[href="x"] { }</style>
        <script>var s = "<img src='script.png'>";</script></head><body>
        <!-- <img src="commented.png"> -->
        <a href="#top">top</a> <a href='https://example.org/a.png'>web</a> <a href="HTTP://EXAMPLE.ORG">up</a>
        <IMG SRC=plain.png alt=x> <a class="f" href = "data/x.csv?raw=1#L3">csv</a>
        <a href="a&amp;b%20c.txt">amp</a> <img src="mailto:someone@example.org"> <a href="plain.png">again</a>
        <link href="style.css"> <a name="no-href">n</a>
        </body></html>"##;
    assert_eq!(referenced_files(html), ["plain.png", "data/x.csv", "a&b c.txt"]);
}

#[test]
fn missing_files_lists_exactly_the_files_not_created() {
    let dir = tempfile::tempdir().expect("tempdir");
    let html = render(&page_with_files(&FILES));
    let created = [FILES[0], FILES[3], FILES[5]];
    for file in created {
        let path = dir.path().join(file);
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(&path, b"x").expect("write");
    }
    let expected: Vec<&str> = FILES.iter().copied().filter(|f| !created.contains(f)).collect();
    assert_eq!(missing_files(dir.path(), &html), expected);

    for file in expected {
        let path = dir.path().join(file);
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        if file == "checkpoints" {
            fs::create_dir(&path).expect("mkdir"); // a link to a directory counts as present
        } else {
            fs::write(&path, b"x").expect("write");
        }
    }
    assert_eq!(missing_files(dir.path(), &html), Vec::<String>::new());
}

#[test]
fn numeric_cells_are_right_aligned_and_text_cells_are_not() {
    let numbers = ["3", "0.125", "-1.5e-3", "12.5%", "0.91 ± 0.02", "\u{2212}4", "NaN", " 7 "];
    let texts = ["fresh", "n/a", "v1.2", "3 runs", "", "1-2", "0x1F"];
    let rows: Vec<Vec<String>> = numbers
        .iter()
        .zip(texts.iter().cycle())
        .map(|(n, t)| vec![format!("row {n}"), n.to_string(), t.to_string()])
        .collect();
    let page = Page {
        title: "Table".into(),
        intro: vec![],
        sections: vec![Section {
            heading: "Numbers".into(),
            blocks: vec![Block::Table {
                header: vec!["strategy".into(), "variance".into(), "note".into()],
                rows: rows.clone(),
                caption: "mixed cells".into(),
            }],
        }],
    };
    let html = render(&page);
    let right = |attrs: &str| attrs.contains("class=\"num\"");

    let cells = elements(&html, "td");
    assert_eq!(cells.len(), rows.len() * 3);
    for (cell, text) in cells.iter().zip(rows.iter().flatten()) {
        let numeric = numbers.contains(&text.as_str());
        assert_eq!(right(cell.0), numeric, "cell {text:?} rendered as <td{}>", cell.0);
    }
    // The header of the all-numeric column is right-aligned with it; the others are not.
    let heads: Vec<bool> = elements(&html, "th").iter().map(|(attrs, _)| right(attrs)).collect();
    assert_eq!(heads, [false, true, false]);
    // And the class really does align right.
    assert!(html.contains("th.num, td.num { text-align: right;"), "no right-alignment rule");
}

#[test]
fn commands_are_shown_verbatim_in_order() {
    let commands = vec![
        "flowcollapse gaussian --generations 10 --out 'runs/a b' && echo \"done\" > log.txt".to_string(),
        "  cat runs/*.csv | sort -k2 < input".to_string(),
    ];
    let page = Page {
        title: "Commands".into(),
        intro: vec![],
        sections: vec![Section { heading: "Reproduce".into(), blocks: vec![Block::Commands(commands.clone())] }],
    };
    let html = render(&page);
    let pres = elements(&html, "pre");
    assert_eq!(pres.len(), 1);
    // Drop the markup, undo the five escapes: the exact command lines come back.
    let mut text = String::new();
    let mut in_tag = false;
    for c in pres[0].1.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    let text = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    assert_eq!(text, format!("{}\n", commands.join("\n")));
}

#[test]
fn page_is_self_contained_with_contents_and_footer() {
    let html = render(&page_with_files(&["a.png", "b.png", "c.png", "d.png"]));
    for external in ["<script", "<link", "@import", "url(", "https://fonts"] {
        assert!(!html.contains(external), "page loads something: {external}");
    }
    // Only the URLs given as links leave the page.
    assert_eq!(html.matches("://").count(), 2, "{html}");
    for n in [1, 2] {
        assert!(html.contains(&format!("<a href=\"#section-{n}\">")), "contents lack section {n}");
        assert!(html.contains(&format!("<section id=\"section-{n}\">")), "section {n} has no anchor");
    }
    assert!(html.contains(&format!("made by flowcollapse {}", env!("CARGO_PKG_VERSION"))));
    // Every figure image links to its full-size file.
    assert!(html.contains("<a href=\"a.png\"><img src=\"a.png\""), "{html}");
}

#[test]
fn write_creates_index_html_equal_to_render() {
    let dir = tempfile::tempdir().expect("tempdir");
    let page = page_with_files(&FILES);
    let path = write(dir.path(), &page).expect("write");
    assert_eq!(path, dir.path().join("index.html"));
    assert_eq!(fs::read_to_string(&path).expect("read"), render(&page));
    let names: Vec<String> = fs::read_dir(dir.path())
        .expect("ls")
        .map(|e| e.expect("entry").file_name().into_string().expect("utf8"))
        .collect();
    assert_eq!(names, ["index.html"], "temporary files left behind");
    // A second write replaces the page.
    let other = Page { title: "Second".into(), ..page };
    write(dir.path(), &other).expect("rewrite");
    assert_eq!(fs::read_to_string(Path::new(&path)).expect("read"), render(&other));
}
