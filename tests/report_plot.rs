//! The plotting layer writes real, complete PNG and SVG files and refuses empty charts.

use std::fs;
use std::path::{Path, PathBuf};

use flowcollapse::report::plot::{layout, render, render_maps, Chart, Layout, Maps, PlotError, Scale, Series};

/// Two series exercising every part: line + markers + band, and a dashed line.
fn two_series_chart() -> Chart {
    let xs: Vec<f64> = (0..=20).map(|i| f64::from(i) * 0.5).collect();
    let closed_form: Vec<(f64, f64)> = xs.iter().map(|&x| (x, (-0.3 * x).exp())).collect();
    let means: Vec<(f64, f64)> =
        closed_form.iter().step_by(2).map(|&(x, y)| (x, y * (1.0 + 0.03 * (3.0 * x).sin()))).collect();
    let band = means.iter().map(|&(x, y)| (x, y - 0.05, y + 0.05)).collect();
    Chart {
        title: "Variance after k generations".into(),
        x_label: "generation k".into(),
        y_label: "variance".into(),
        caption: Some("Monte Carlo means over 1000 runs with 95% confidence bands.".into()),
        series: vec![
            Series {
                label: "closed form vs Monte Carlo".into(),
                line: closed_form,
                points: means,
                band,
                dashed: false,
            },
            Series {
                label: "upper bound".into(),
                line: xs.iter().map(|&x| (x, 1.0 - 0.05 * x)).collect(),
                dashed: true,
                ..Series::default()
            },
        ],
        ..Chart::default()
    }
}

/// Width and height from the IHDR chunk, which must come first right after the signature.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    const SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
    assert!(bytes.len() > 24, "PNG too short: {} bytes", bytes.len());
    assert_eq!(bytes[..8], SIGNATURE, "not a PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR", "first chunk is not IHDR");
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

fn assert_no_temp_files(dir: &Path) {
    let leftovers: Vec<String> = names_in(dir).into_iter().filter(|n| n.starts_with(".tmp-")).collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn two_series_chart_writes_png_and_svg() {
    let dir = tempfile::tempdir().unwrap();
    let chart = two_series_chart();
    let [png, svg] = render(&chart, &dir.path().join("variance")).unwrap();
    assert_eq!(png, dir.path().join("variance.png"));
    assert_eq!(svg, dir.path().join("variance.svg"));

    // (a) a complete PNG of the documented size
    let bytes = fs::read(&png).unwrap();
    assert_eq!(png_size(&bytes), (1200, 800));
    assert_eq!(&bytes[bytes.len() - 8..bytes.len() - 4], b"IEND", "PNG is truncated");

    // (b) every piece of text is in the SVG as text
    let text = fs::read_to_string(&svg).unwrap();
    for needle in [
        "Variance after k generations",
        "generation k",
        "variance",
        "closed form vs Monte Carlo",
        "upper bound",
        "Monte Carlo means over 1000 runs",
    ] {
        assert!(text.contains(needle), "SVG lacks {needle:?}");
    }
    assert!(text.contains("width=\"1200\"") && text.contains("height=\"800\""));

    // (c) nothing but the two outputs
    assert_no_temp_files(dir.path());
    assert_eq!(names_in(dir.path()), ["variance.png", "variance.svg"]);
}

#[test]
fn stem_with_a_dot_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let [png, svg] = render(&two_series_chart(), &dir.path().join("var.n10")).unwrap();
    assert_eq!(png.file_name().unwrap(), "var.n10.png");
    assert_eq!(svg.file_name().unwrap(), "var.n10.svg");
    assert!(png.is_file() && svg.is_file());
}

#[test]
fn log_scale_skips_zeros_and_negatives() {
    let dir = tempfile::tempdir().unwrap();
    let chart = Chart {
        title: "Log axes".into(),
        x_label: "n".into(),
        y_label: "error".into(),
        x_scale: Scale::Log,
        y_scale: Scale::Log,
        series: vec![Series {
            label: "error".into(),
            line: vec![(0.0, 1.0), (1.0, 0.5), (10.0, 0.05), (100.0, 0.0), (1000.0, -1.0)],
            points: vec![(-5.0, 2.0), (10.0, 0.06), (100.0, 0.004)],
            band: vec![(1.0, -0.1, 0.9), (10.0, 0.0, 0.1), (100.0, 0.002, 0.008)],
            dashed: false,
        }],
        ..Chart::default()
    };
    let [png, svg] = render(&chart, &dir.path().join("log")).unwrap();
    assert_eq!(png_size(&fs::read(png).unwrap()), (1200, 800));
    let text = fs::read_to_string(svg).unwrap();
    assert!(text.contains("Log axes"));
    // Decade ticks are labelled.
    assert!(text.contains(">\n10\n<") || text.contains(">10<"), "no tick label 10");
    assert_no_temp_files(dir.path());
}

#[test]
fn log_scale_within_one_decade_still_has_ticks() {
    let dir = tempfile::tempdir().unwrap();
    let chart = Chart {
        title: "narrow".into(),
        y_scale: Scale::Log,
        series: vec![Series { line: vec![(0.0, 2.0), (1.0, 3.0), (2.0, 7.0)], ..Series::default() }],
        ..Chart::default()
    };
    let [_, svg] = render(&chart, &dir.path().join("narrow")).unwrap();
    let text = fs::read_to_string(svg).unwrap();
    // y tick labels are right-aligned text elements on the left axis.
    let y_ticks = text.matches("text-anchor=\"end\"").count();
    assert!(y_ticks >= 2, "only {y_ticks} y tick labels on a one-decade log axis");
}

/// The text content of every `<text>` element of an SVG written by plotters.
fn svg_texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| {
            let body = &t[t.find('>')? + 1..t.find("</text>")?];
            Some(body.trim().to_string())
        })
        .collect()
}

#[test]
fn tick_labels_are_short_and_free_of_float_noise() {
    let dir = tempfile::tempdir().unwrap();
    // Steps of 0.1 (not exact in binary) on x; values spanning 1e-6..1e-2 on a log y axis.
    let line: Vec<(f64, f64)> =
        (0..=30).map(|i| (f64::from(i) * 0.01, 10f64.powf(-6.0 + f64::from(i) / 7.5))).collect();
    let chart = Chart {
        title: "ticks".into(),
        y_scale: Scale::Log,
        series: vec![Series { line, ..Series::default() }],
        ..Chart::default()
    };
    let [_, svg] = render(&chart, &dir.path().join("ticks")).unwrap();
    let labels: Vec<String> =
        svg_texts(&fs::read_to_string(svg).unwrap()).into_iter().filter(|t| t != "ticks").collect();
    assert!(labels.len() >= 6, "too few tick labels: {labels:?}");
    for label in &labels {
        assert!(label.parse::<f64>().is_ok(), "not a number: {label:?}");
        assert!(label.len() <= 5, "long tick label {label:?} in {labels:?}");
    }
    // Decades on the log axis, in one notation.
    for decade in ["1e-6", "1e-5", "1e-4", "1e-3", "1e-2"] {
        assert!(labels.iter().any(|l| l == decade), "no {decade} in {labels:?}");
    }
}

#[test]
fn single_value_and_all_invalid_axis_values() {
    let dir = tempfile::tempdir().unwrap();
    // One point: min == max on both axes, which must still give a usable range.
    let chart = Chart {
        title: "one point".into(),
        series: vec![Series { label: "p".into(), points: vec![(3.0, 3.0)], ..Series::default() }],
        ..Chart::default()
    };
    render(&chart, &dir.path().join("one")).unwrap();

    // Only non-positive values on a log axis: nothing can be drawn.
    let chart = Chart {
        title: "non-positive".into(),
        y_scale: Scale::Log,
        series: vec![Series { line: vec![(1.0, 0.0), (2.0, -1.0)], ..Series::default() }],
        ..Chart::default()
    };
    let err = render(&chart, &dir.path().join("nonpos")).unwrap_err();
    assert!(matches!(err, PlotError::Empty { .. }), "{err}");
}

#[test]
fn all_nan_chart_is_empty_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let chart = Chart {
        title: "nothing".into(),
        series: vec![Series {
            label: "nan".into(),
            line: vec![(f64::NAN, f64::NAN), (1.0, f64::NAN)],
            points: vec![(f64::NAN, 1.0), (f64::INFINITY, 2.0)],
            band: vec![(f64::NAN, 0.0, 1.0), (1.0, f64::NAN, f64::NEG_INFINITY)],
            dashed: false,
        }],
        ..Chart::default()
    };
    match render(&chart, &dir.path().join("nothing")) {
        Err(PlotError::Empty { title }) => assert_eq!(title, "nothing"),
        other => panic!("expected PlotError::Empty, got {other:?}"),
    }
    assert_eq!(names_in(dir.path()), Vec::<String>::new());
}

#[test]
fn missing_directory_is_an_io_error_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing: PathBuf = dir.path().join("no-such-dir").join("fig");
    match render(&two_series_chart(), &missing) {
        Err(PlotError::Io { path, source }) => {
            assert_eq!(path, dir.path().join("no-such-dir").join("fig.png"));
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("expected PlotError::Io, got {other:?}"),
    }
    assert_eq!(names_in(dir.path()), Vec::<String>::new());
}

/// The layout's legend box holds none of `points`.
fn covered(layout: &Layout, points: &[(i32, i32)]) -> usize {
    let legend = layout.legend.expect("a legend");
    points.iter().filter(|&&p| legend.contains(p)).count()
}

/// A band filling the lower right and lines across the top: the legend must go to the lower left, the one
/// place that hides nothing (it used to count lines and markers only, and sat on the band).
#[test]
fn legend_keeps_off_lines_markers_and_bands() {
    let xs: Vec<f64> = (0..=30).map(f64::from).collect();
    let chart = Chart {
        title: "legend placement".into(),
        series: vec![
            Series {
                label: "high".into(),
                line: xs.iter().map(|&x| (x, 1.0 - 0.001 * x)).collect(),
                ..Series::default()
            },
            Series {
                label: "falling, with a wide band".into(),
                points: xs.iter().map(|&x| (x, 0.9 - 0.002 * x)).collect(),
                band: xs.iter().filter(|&&x| x >= 15.0).map(|&x| (x, 0.0, 0.9 - 0.002 * x)).collect(),
                ..Series::default()
            },
        ],
        ..Chart::default()
    };
    let layout = layout(&chart).unwrap();
    let legend = layout.legend.unwrap();
    let plot = layout.plot;
    let (mid_x, mid_y) = ((plot.left + plot.right) / 2, (plot.top + plot.bottom) / 2);
    assert!(legend.right < mid_x && legend.top > mid_y, "legend {legend:?} not in the lower left of {plot:?}");
    assert_eq!(covered(&layout, &layout.drawn), 0);
    assert_eq!(covered(&layout, &layout.shaded), 0);
    assert!(!layout.shaded.is_empty() && layout.shaded.iter().all(|&p| plot.contains(p)));
}

/// The linear-reflow figures at the demo's settings (30 generations, Monte Carlo with 2000 pairs) and at the
/// defaults: the legend hides no line, marker or band of the curves it names.
#[test]
fn linear_reflow_legends_hide_no_data() {
    use flowcollapse::experiment::linear_reflow::{records, run, LinearReflowParams};
    use flowcollapse::report::figures::linear_reflow::{trace, variance};
    let demo =
        LinearReflowParams { euler_steps: Some(8), pairs: Some(2000), generations: Some(30), ..Default::default() };
    for params in [demo, LinearReflowParams::default()] {
        let config = params.validate().unwrap();
        let outcomes = run(&config);
        let rows = records(&config, &outcomes);
        for chart in [variance(&config, &outcomes, &rows), trace(&config, &outcomes, &rows)] {
            let layout = layout(&chart).unwrap();
            let (lines, bands) = (covered(&layout, &layout.drawn), covered(&layout, &layout.shaded));
            assert_eq!((lines, bands), (0, 0), "{}: legend {:?} hides data", chart.title, layout.legend);
        }
    }
}

/// An RGB PNG's width, height and pixels.
fn decode_rgb(path: &Path) -> (u32, u32, Vec<u8>) {
    let mut reader = png::Decoder::new(fs::File::open(path).unwrap()).read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut pixels).unwrap();
    assert_eq!((info.color_type, info.bit_depth), (png::ColorType::Rgb, png::BitDepth::Eight));
    pixels.truncate(info.buffer_size());
    (info.width, info.height, pixels)
}

/// Two 3 × 4 maps: every data pixel becomes a block of one grey, 255 · v / (largest value of both maps),
/// the figure is wide enough to read, and it has a title and a colour bar from white down to black.
#[test]
fn maps_are_upscaled_on_one_grey_scale_with_a_title_and_a_colour_bar() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("maps.png");
    let ramp: Vec<f64> = (0..12).map(f64::from).collect();
    let maps = Maps {
        title: "Per-pixel variance".into(),
        caption: Some("what the panels show".into()),
        height: 3,
        width: 4,
        panels: vec![("ramp".into(), ramp.clone()), ("flat".into(), vec![5.5; 12])],
        scale_label: "variance".into(),
    };
    let layout = render_maps(&maps, &path).unwrap();
    let (w, h, pixels) = decode_rgb(&path);
    assert_eq!((w, h), layout.size);
    assert!(w >= 480, "{w} px wide");
    let at = |x: i32, y: i32| {
        let i = 3 * (y as usize * w as usize + x as usize);
        (pixels[i], pixels[i + 1], pixels[i + 2])
    };
    // 160 px panels: 4 columns of 40 px blocks.
    assert_eq!(layout.scale, 40);
    for (panel, values) in layout.panels.iter().zip([&ramp, &vec![5.5; 12]]) {
        assert_eq!((panel.right - panel.left + 1, panel.bottom - panel.top + 1), (160, 120));
        for (i, &v) in values.iter().enumerate() {
            let grey = (255.0 * v / 11.0).round() as u8;
            let (x0, y0) = (panel.left + 40 * (i % 4) as i32, panel.top + 40 * (i / 4) as i32);
            // Every pixel of the block, corners included: nearest neighbour, no smoothing.
            for (x, y) in [(x0, y0), (x0 + 39, y0), (x0, y0 + 39), (x0 + 39, y0 + 39), (x0 + 20, y0 + 20)] {
                assert_eq!(at(x, y), (grey, grey, grey), "value {v} at ({x}, {y})");
            }
        }
    }
    assert_eq!(layout.top, 11.0);
    let bar = layout.bar;
    let mid = (bar.left + bar.right) / 2;
    assert_eq!(at(mid, bar.top), (255, 255, 255), "white at the top of the bar");
    assert_eq!(at(mid, bar.bottom), (0, 0, 0), "black at the bottom");
    // Text above the panels: the title and labels leave dark pixels there.
    let top_band = layout.panels[0].top as usize;
    let dark = (0..top_band * w as usize).filter(|&p| pixels[3 * p] < 100).count();
    assert!(dark > 500, "{dark} dark pixels above the panels: no title?");
}

#[test]
fn maps_refuse_empty_or_misshapen_panels() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("maps.png");
    let empty = Maps { title: "nothing".into(), height: 2, width: 2, ..Maps::default() };
    assert!(matches!(render_maps(&empty, &path), Err(PlotError::Empty { .. })));
    let short = Maps { panels: vec![("short".into(), vec![1.0; 3])], ..empty };
    let message = render_maps(&short, &path).unwrap_err().to_string();
    assert!(message.contains("short") && message.contains("2 × 2"), "{message}");
    assert!(!path.exists());
}

/// A long title over few panels widens the figure instead of running off both edges: the outermost
/// columns of the title band hold no ink.
#[test]
fn a_long_map_title_is_not_clipped() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("maps.png");
    let maps = Maps {
        title: "Per-pixel variance: real images and samples per solver step count, on one grey scale".into(),
        caption: None,
        height: 3,
        width: 4,
        panels: vec![("only".into(), vec![1.0; 12])],
        scale_label: "variance".into(),
    };
    let layout = render_maps(&maps, &path).unwrap();
    let (w, _, pixels) = decode_rgb(&path);
    let ink_in_column = |x: u32| (0..layout.panels[0].top as u32).any(|y| pixels[3 * (y * w + x) as usize] < 200);
    let inked: Vec<u32> = (0..w).filter(|&x| ink_in_column(x)).collect();
    assert!(!inked.is_empty(), "a title is drawn");
    let (first, last) = (inked[0], *inked.last().unwrap());
    assert!(first >= 5 && last + 5 < w, "title ink spans columns {first}..={last} of {w}: clipped");
}
