//! Paper-quality line/marker/band charts, written as PNG and SVG.
//!
//! One small description ([`Chart`]) drives every figure of the project, so that all figures share
//! fonts, colours and layout. Text is drawn with embedded DejaVu fonts because the machines that
//! build figures have no system font stack. Both files are written atomically.

use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::combinators::{BindKeyPoints, IntoLogRange, LogCoord, WithKeyPoints};
use plotters::coord::ranged1d::{BoldPoints, Ranged, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{register_font, FontStyle, RGBColor};

use super::atomic;

/// An axis scale (used for x and y).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Scale {
    #[default]
    Linear,
    Log,
}

/// One named series of a chart. Any of the three parts may be empty.
#[derive(Clone, Debug, Default)]
pub struct Series {
    pub label: String,
    /// Drawn as a solid line (e.g. a closed form).
    pub line: Vec<(f64, f64)>,
    /// Drawn as markers (e.g. Monte Carlo means).
    pub points: Vec<(f64, f64)>,
    /// A shaded band (x, lo, hi) drawn under the markers (e.g. a 95% confidence interval).
    pub band: Vec<(f64, f64, f64)>,
    /// Draw `line` dashed (e.g. a reference or a bound), default solid.
    pub dashed: bool,
}

/// A whole figure: titles, axis scales and the series to draw.
#[derive(Clone, Debug, Default)]
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub y_scale: Scale,
    pub x_scale: Scale,
    pub series: Vec<Series>,
    /// A short caption under the title saying what was measured (optional).
    pub caption: Option<String>,
}

/// Why a chart could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error("cannot write plot {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot draw plot {path}: {message}")]
    Draw { path: PathBuf, message: String },
    #[error("chart '{title}' has no finite data to plot")]
    Empty { title: String },
}

/// A rectangle in image pixels, edges included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rect {
    pub left: i32,
    pub top: i32,
    pub right: i32,
    pub bottom: i32,
}

impl Rect {
    pub fn contains(&self, (x, y): (i32, i32)) -> bool {
        (self.left..=self.right).contains(&x) && (self.top..=self.bottom).contains(&y)
    }
}

/// Where a chart's parts land in its image (PNG and SVG alike), for tests and for checking a figure.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    /// The plotting area inside the axes.
    pub plot: Rect,
    /// The legend box; `None` when no series has a label.
    pub legend: Option<Rect>,
    /// Every drawn line (sampled along its segments) and marker centre.
    pub drawn: Vec<(i32, i32)>,
    /// Points sampled inside the shaded bands.
    pub shaded: Vec<(i32, i32)>,
}

/// Pixel size of both outputs (the SVG uses the same units, so both look identical).
const SIZE: (u32, u32) = (1200, 800);
const TITLE_PX: f64 = 28.0;
const CAPTION_PX: f64 = 18.0;
const AXIS_TITLE_PX: f64 = 22.0;
const TICK_PX: f64 = 18.0;
const LEGEND_PX: f64 = 18.0;
/// Upper bound on labelled ticks per axis; also used to size the label areas.
const MAX_TICKS: usize = 10;
const TICK_MARK: i32 = 8;
const LINE_WIDTH: u32 = 3;
const MARKER_RADIUS: i32 = 4;
const BAND_ALPHA: f64 = 0.2;

/// Okabe–Ito colour-blind-safe palette, reordered so that the first colours contrast most
/// on white (yellow last). Series cycle through it.
const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),   // blue
    RGBColor(213, 94, 0),    // vermillion
    RGBColor(0, 158, 115),   // bluish green
    RGBColor(204, 121, 167), // reddish purple
    RGBColor(230, 159, 0),   // orange
    RGBColor(86, 180, 233),  // sky blue
    RGBColor(0, 0, 0),       // black
    RGBColor(240, 228, 66),  // yellow
];

/// Render the chart to `<stem>.png` (1200×800 px) and `<stem>.svg`; return both paths.
///
/// The extensions are appended, so a stem such as `fig/var.n10` keeps its dot. Values that
/// cannot be placed on an axis (NaN, ±inf, and ≤ 0 on a log axis) are skipped, not fatal.
pub fn render(chart: &Chart, stem: &Path) -> Result<[PathBuf; 2], PlotError> {
    let bounds = Bounds::of(chart).ok_or_else(|| PlotError::Empty { title: chart.title.clone() })?;
    let png = with_extension(stem, "png");
    let svg = with_extension(stem, "svg");
    write_figure(&png, |tmp| draw(&BitMapBackend::new(tmp, SIZE).into_drawing_area(), chart, &bounds).map(drop))?;
    write_figure(&svg, |tmp| draw(&SVGBackend::new(tmp, SIZE).into_drawing_area(), chart, &bounds).map(drop))?;
    Ok([png, svg])
}

/// The layout [`render`] gives `chart`, drawn in memory (nothing is written).
pub fn layout(chart: &Chart) -> Result<Layout, PlotError> {
    let bounds = Bounds::of(chart).ok_or_else(|| PlotError::Empty { title: chart.title.clone() })?;
    let failed = |message| PlotError::Draw { path: PathBuf::from("(in memory)"), message };
    register_fonts().map_err(failed)?;
    let mut buffer = vec![0u8; 3 * SIZE.0 as usize * SIZE.1 as usize];
    let layout = draw(&BitMapBackend::with_buffer(&mut buffer, SIZE).into_drawing_area(), chart, &bounds);
    layout.map_err(failed)
}

/// `stem` + `.ext`, without replacing an existing dot-suffix of the stem.
fn with_extension(stem: &Path, ext: &str) -> PathBuf {
    let mut name = stem.as_os_str().to_owned();
    name.push(".");
    name.push(ext);
    PathBuf::from(name)
}

/// Failures inside `with_temp_file`, which only knows how to make one from `io::Error`.
enum Failure {
    Io(io::Error),
    Draw(String),
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Io(e)
    }
}

/// Draw into a temporary sibling of `path`, then rename it into place.
fn write_figure(path: &Path, draw: impl FnOnce(&Path) -> Result<(), String>) -> Result<(), PlotError> {
    atomic::with_temp_file(path, |tmp| {
        register_fonts().map_err(Failure::Draw)?;
        // Create the file first: the backends report I/O failures only as opaque strings.
        std::fs::File::create(tmp)?;
        draw(tmp).map_err(Failure::Draw)
    })
    .map_err(|e| match e {
        Failure::Io(source) => PlotError::Io { path: path.to_path_buf(), source },
        Failure::Draw(message) => PlotError::Draw { path: path.to_path_buf(), message },
    })
}

/// plotters' ab_glyph backend only knows fonts registered by name; do it once per process.
fn register_fonts() -> Result<(), String> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        let fail = |_| "embedded DejaVu font could not be loaded".to_string();
        register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular()).map_err(fail)?;
        register_font("sans-serif", FontStyle::Bold, dejavu::sans::bold()).map_err(fail)
    })
    .clone()
}

/// Whether `v` can be placed on an axis of this scale.
fn usable(v: f64, scale: Scale) -> bool {
    v.is_finite() && (scale == Scale::Linear || v > 0.0)
}

/// The padded axis ranges of a chart.
struct Bounds {
    x: Range<f64>,
    y: Range<f64>,
}

impl Bounds {
    /// `None` when nothing in the chart can be drawn.
    fn of(chart: &Chart) -> Option<Self> {
        let (xs, ys) = (chart.x_scale, chart.y_scale);
        let mut x = Extent::default();
        let mut y = Extent::default();
        for s in &chart.series {
            for &(px, py) in s.line.iter().chain(&s.points) {
                if usable(px, xs) && usable(py, ys) {
                    x.add(px);
                    y.add(py);
                }
            }
            for &(bx, lo, hi) in &s.band {
                if !usable(bx, xs) {
                    continue;
                }
                for v in [lo, hi].into_iter().filter(|&v| usable(v, ys)) {
                    x.add(bx);
                    y.add(v);
                }
            }
        }
        Some(Bounds { x: x.padded(xs)?, y: y.padded(ys)? })
    }
}

/// Running min/max of the usable values along one axis.
#[derive(Default)]
struct Extent(Option<(f64, f64)>);

impl Extent {
    fn add(&mut self, v: f64) {
        self.0 = Some(match self.0 {
            None => (v, v),
            Some((lo, hi)) => (lo.min(v), hi.max(v)),
        });
    }

    /// The range padded by 5% so markers do not sit on the frame.
    fn padded(&self, scale: Scale) -> Option<Range<f64>> {
        let (lo, hi) = self.0?;
        Some(match scale {
            Scale::Linear => {
                let span = hi - lo;
                let pad = if span > 0.0 { 0.05 * span } else { 0.1 * lo.abs() };
                let (a, b) = (lo - pad, hi + pad);
                if a < b && a.is_finite() && b.is_finite() {
                    a..b
                } else if span > 0.0 {
                    // A span beyond f64 range cannot be mapped; keep the central part.
                    lo.max(-f64::MAX / 2.0)..hi.min(f64::MAX / 2.0)
                } else {
                    // A single value that padding cannot move (zero or subnormal).
                    (lo - 1.0)..(hi + 1.0)
                }
            }
            Scale::Log => {
                let ratio = if hi > lo { (hi / lo).powf(0.05) } else { 2.0 };
                let (a, b) = (lo / ratio, hi * ratio);
                // Never pad to 0 or inf, where the log is undefined.
                let a = if a > 0.0 { a } else { lo };
                let b = if b.is_finite() { b } else { hi };
                a..b
            }
        })
    }
}

/// A log axis with our own ticks. plotters only labels powers of ten and their multiples
/// counted up from a power of ten inside the range, so a range within one decade would get
/// a single label or none.
fn log_axis(range: &Range<f64>) -> WithKeyPoints<LogCoord<f64>> {
    let (lo, hi) = (range.start, range.end);
    let (e0, e1) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let inside = |v: &f64| v.is_finite() && *v >= lo * (1.0 - 1e-9) && *v <= hi * (1.0 + 1e-9);
    let at = |mantissas: &[f64], every: i32| -> Vec<f64> {
        (e0..=e1)
            .filter(|e| e.rem_euclid(every) == 0)
            .flat_map(|e| mantissas.iter().map(move |m| m * 10f64.powi(e)))
            .filter(inside)
            .collect()
    };
    const DIGITS: [f64; 9] = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0];
    // Minor grid lines at 1..9 × 10^k while they are not too dense.
    let light = if e1 - e0 <= 6 { at(&DIGITS, 1) } else { Vec::new() };
    let decades = at(&[1.0], 1);
    let bold = if decades.len() > MAX_TICKS {
        at(&[1.0], decades.len().div_ceil(MAX_TICKS) as i32)
    } else if decades.len() >= 3 {
        decades
    } else if at(&[1.0, 2.0, 5.0], 1).len() >= 3 {
        at(&[1.0, 2.0, 5.0], 1)
    } else if at(&DIGITS, 1).len() >= 3 {
        at(&DIGITS, 1)
    } else {
        linear_ticks(lo, hi)
    };
    (lo..hi).log_scale().with_key_points(bold).with_light_points(light)
}

/// About five round (1, 2, 5 × 10^k) ticks inside `lo..hi`, for very narrow log ranges.
fn linear_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let raw = (hi - lo) / 5.0;
    let unit = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * unit).find(|&s| s >= raw).unwrap_or(10.0 * unit);
    if !(step > 0.0 && step.is_finite()) {
        return Vec::new(); // below f64 resolution: leave the axis unlabelled
    }
    let (first, last) = ((lo / step).ceil(), (hi / step).floor());
    (0..=((last - first) as i64).min(20)).map(|i| (first + i as f64) * step).collect()
}

/// A tick-label formatter for one axis: as few digits as tell neighbouring ticks apart, no float
/// noise, and one notation for the whole axis (scientific when the ticks are huge or tiny).
fn tick_formatter(range: &Range<f64>, ticks: &[f64]) -> impl Fn(&f64) -> String {
    let gaps = || ticks.windows(2).filter(|w| w[1] != w[0]);
    // Plain notation needs decimals down to the smallest absolute gap...
    let gap = gaps().map(|w| (w[1] - w[0]).abs()).fold((range.end - range.start).abs() / MAX_TICKS as f64, f64::min);
    let decimals = (1.0 - gap.log10().floor()).clamp(0.0, 15.0) as usize;
    // ...scientific notation needs mantissa digits down to the smallest relative gap
    // (one more than strictly needed, so steps like 2.5 show; trailing zeros are trimmed).
    let relative = gaps().map(|w| (w[1] - w[0]).abs() / w[0].abs().max(w[1].abs())).fold(1.0, f64::min);
    let digits = (1.0 - relative.log10().floor()).clamp(0.0, 15.0) as usize;
    // Only an axis through zero has a tick that is zero up to float noise.
    let zero_at = if range.start <= 0.0 && range.end >= 0.0 { gap * 1e-6 } else { 0.0 };
    let plain = ticks.iter().map(|t| t.abs()).filter(|&t| t > zero_at).all(|t| (1e-3..1e6).contains(&t));
    move |&v: &f64| {
        if v.abs() <= zero_at {
            "0".to_string()
        } else if plain {
            trim_decimal(&format!("{v:.decimals$}"))
        } else {
            trim_scientific(&format!("{v:.digits$e}"))
        }
    }
}

/// "1.500" → "1.5", "2.000" → "2".
fn trim_decimal(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s.to_string()
    }
}

/// "1.500e-4" → "1.5e-4", "2.00e6" → "2e6", "1.0e0" → "1".
fn trim_scientific(s: &str) -> String {
    match s.split_once('e') {
        Some((mantissa, "0")) => trim_decimal(mantissa),
        Some((mantissa, exp)) => format!("{}e{exp}", trim_decimal(mantissa)),
        None => s.to_string(),
    }
}

type DrawResult<T, DB> = Result<T, DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// Draw the whole figure on any backend, so PNG and SVG come from the same code; returns where things went.
fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, chart: &Chart, bounds: &Bounds) -> Result<Layout, String> {
    let inner = || -> DrawResult<Layout, DB> {
        root.fill(&WHITE)?;
        let area = draw_header(root, chart)?;
        let (x, y) = (&bounds.x, &bounds.y);
        let linear = |r: &Range<f64>| RangedCoordf64::from(r.clone());
        let layout = match (chart.x_scale, chart.y_scale) {
            (Scale::Linear, Scale::Linear) => draw_plot(&area, chart, linear(x), linear(y)),
            (Scale::Linear, Scale::Log) => draw_plot(&area, chart, linear(x), log_axis(y)),
            (Scale::Log, Scale::Linear) => draw_plot(&area, chart, log_axis(x), linear(y)),
            (Scale::Log, Scale::Log) => draw_plot(&area, chart, log_axis(x), log_axis(y)),
        }?;
        root.present()?;
        Ok(layout)
    };
    inner().map_err(|e| e.to_string())
}

fn font(px: f64) -> TextStyle<'static> {
    ("sans-serif", px).into_font().color(&BLACK)
}

fn bold_font(px: f64) -> TextStyle<'static> {
    ("sans-serif", px, FontStyle::Bold).into_font().color(&BLACK)
}

/// Title and wrapped caption; returns the area left for the plot.
fn draw_header<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    chart: &Chart,
) -> DrawResult<DrawingArea<DB, Shift>, DB> {
    let mut area = root.margin(10, 0, 0, 0);
    if !chart.title.trim().is_empty() {
        let style = bold_font(TITLE_PX);
        area = area.titled(chart.title.trim(), style)?;
    }
    let caption = chart.caption.as_deref().map(str::trim).unwrap_or("");
    if !caption.is_empty() {
        let style = font(CAPTION_PX).color(&RGBColor(70, 70, 70));
        let (width, _) = area.dim_in_pixel();
        let lines = wrap(&area, caption, &style, width.saturating_sub(120))?;
        let line_height = (CAPTION_PX * 1.35).round() as i32;
        let centred = style.pos(Pos::new(HPos::Center, VPos::Top));
        for (i, line) in lines.iter().enumerate() {
            area.draw_text(line, &centred, (width as i32 / 2, i as i32 * line_height))?;
        }
        area = area.split_vertically(lines.len() as i32 * line_height + 6).1;
    }
    Ok(area)
}

/// Greedy word wrap to `max_width` pixels, measured with the real font.
fn wrap<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    style: &TextStyle,
    max_width: u32,
) -> DrawResult<Vec<String>, DB> {
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for word in text.split_whitespace() {
        let candidate = if current.is_empty() { word.to_string() } else { format!("{current} {word}") };
        if current.is_empty() || area.estimate_text_size(&candidate, style)?.0 <= max_width {
            current = candidate;
        } else {
            lines.push(std::mem::replace(&mut current, word.to_string()));
        }
    }
    lines.push(current);
    Ok(lines)
}

/// Widest of these tick labels, in pixels, so the label area fits them.
fn widest<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    ticks: &[f64],
    format: &dyn Fn(&f64) -> String,
) -> DrawResult<u32, DB> {
    let mut widest = 0;
    for v in ticks {
        widest = widest.max(area.estimate_text_size(&format(v), &font(TICK_PX))?.0);
    }
    Ok(widest)
}

/// Axes, mesh, series and legend, for any pair of axis coordinate types.
fn draw_plot<DB, X, Y>(area: &DrawingArea<DB, Shift>, chart: &Chart, x_axis: X, y_axis: Y) -> DrawResult<Layout, DB>
where
    DB: DrawingBackend,
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    // The same hint the mesh uses, so these are exactly the labelled ticks.
    let (x_ticks, y_ticks) = (x_axis.key_points(BoldPoints(MAX_TICKS)), y_axis.key_points(BoldPoints(MAX_TICKS)));
    let (x_range, y_range) = (x_axis.range(), y_axis.range());
    let x_format = tick_formatter(&x_range, &x_ticks);
    let y_format = tick_formatter(&y_range, &y_ticks);

    // Label areas: tick mark, gap, tick labels, gap, axis title.
    let axis_title = |label: &str| match label.trim() {
        "" => 0,
        _ => 8 + (AXIS_TITLE_PX * 1.2) as u32,
    };
    let ticks_w = widest(area, &y_ticks, &y_format)?;
    let y_area = 2 * TICK_MARK as u32 + ticks_w + 8 + axis_title(&chart.y_label);
    let x_area = 2 * TICK_MARK as u32 + (TICK_PX * 1.3) as u32 + 8 + axis_title(&chart.x_label);
    // The last x tick label may be centred on the right edge of the plot.
    let right = widest(area, &x_ticks, &x_format)? / 2 + 20;

    let mut ctx = ChartBuilder::on(area)
        .margin(10)
        .margin_left(20)
        .margin_right(right.max(30))
        .x_label_area_size(x_area)
        .y_label_area_size(y_area)
        .build_cartesian_2d(x_axis, y_axis)?;

    let mut mesh = ctx.configure_mesh();
    if !chart.x_label.trim().is_empty() {
        mesh.x_desc(chart.x_label.trim());
    }
    if !chart.y_label.trim().is_empty() {
        mesh.y_desc(chart.y_label.trim());
    }
    mesh.x_labels(MAX_TICKS)
        .y_labels(MAX_TICKS)
        .axis_desc_style(font(AXIS_TITLE_PX))
        .label_style(font(TICK_PX))
        .x_label_formatter(&x_format)
        .y_label_formatter(&y_format)
        .bold_line_style(BLACK.mix(0.12))
        .light_line_style(BLACK.mix(0.05))
        .max_light_lines(4)
        .axis_style(BLACK.stroke_width(1))
        .set_all_tick_mark_size(TICK_MARK)
        .draw()?;

    let (xs, ys) = (chart.x_scale, chart.y_scale);
    let (y_lo, y_hi) = (y_range.start, y_range.end);
    let colours = || chart.series.iter().zip(PALETTE.iter().cycle());

    // Bands first, then lines, then markers: nothing hides another series' markers.
    let mut shaded: Vec<(i32, i32)> = Vec::new();
    for (s, &colour) in colours() {
        let fill = colour.mix(BAND_ALPHA).filled();
        // On a log axis a lower bound ≤ 0 means "off the bottom": clamp it to the frame.
        let clamp = |v: f64| match v {
            v if usable(v, ys) => v,
            f64::INFINITY => y_hi,
            _ => y_lo,
        };
        let drawable = |&&(x, lo, hi): &&(f64, f64, f64)| {
            usable(x, xs) && !lo.is_nan() && !hi.is_nan() && (usable(lo, ys) || usable(hi, ys))
        };
        for run in runs(&s.band, drawable) {
            // Points inside the band, in pixels, so that the legend can keep off it too.
            let edges: Vec<((i32, i32), (i32, i32))> = run
                .iter()
                .map(|&(x, lo, hi)| {
                    (ctx.backend_coord(&(x, clamp(lo.max(hi)))), ctx.backend_coord(&(x, clamp(lo.min(hi)))))
                })
                .collect();
            let pairs = if edges.len() == 1 {
                vec![(edges[0], edges[0])]
            } else {
                edges.windows(2).map(|w| (w[0], w[1])).collect()
            };
            for (a, b) in pairs {
                for i in 0..=16 {
                    let (top, bottom) = (lerp(a.0, b.0, i as f64 / 16.0), lerp(a.1, b.1, i as f64 / 16.0));
                    shaded.extend((0..=8).map(|j| lerp(top, bottom, j as f64 / 8.0)));
                }
            }
            let upper = run.iter().map(|&(x, lo, hi)| (x, clamp(lo.max(hi))));
            let lower = run.iter().rev().map(|&(x, lo, hi)| (x, clamp(lo.min(hi))));
            let outline: Vec<(f64, f64)> = upper.chain(lower).collect();
            if run.len() == 1 {
                // A one-point band is an error bar.
                ctx.draw_series(std::iter::once(PathElement::new(outline, colour.stroke_width(LINE_WIDTH))))?;
            } else {
                ctx.draw_series(std::iter::once(Polygon::new(outline, fill)))?;
            }
        }
    }
    for (s, &colour) in colours() {
        let style = colour.stroke_width(LINE_WIDTH);
        let drawable = |&&(x, y): &&(f64, f64)| usable(x, xs) && usable(y, ys);
        for run in runs(&s.line, drawable) {
            let run = run.to_vec();
            if s.dashed {
                ctx.draw_series(DashedLineSeries::new(run, 12, 8, style))?;
            } else {
                ctx.draw_series(LineSeries::new(run, style))?;
            }
        }
    }
    for (s, &colour) in colours() {
        let markers = s.points.iter().filter(|&&(x, y)| usable(x, xs) && usable(y, ys));
        ctx.draw_series(markers.map(|&p| Circle::new(p, MARKER_RADIUS, colour.filled())))?;
    }

    // Every drawn point in image pixels, lines sampled between their vertices, so the legend can go where
    // it hides the least data.
    let mut drawn: Vec<(i32, i32)> = Vec::new();
    for s in &chart.series {
        let pixels: Vec<(i32, i32)> = s
            .line
            .iter()
            .chain(&s.points)
            .filter(|&&(x, y)| usable(x, xs) && usable(y, ys))
            .map(|p| ctx.backend_coord(p))
            .collect();
        let vertices = s.line.iter().filter(|&&(x, y)| usable(x, xs) && usable(y, ys)).count();
        for w in pixels[..vertices].windows(2) {
            drawn.extend((0..16).map(|i| lerp(w[0], w[1], i as f64 / 16.0)));
        }
        drawn.extend(pixels);
    }
    let plotting = ctx.plotting_area().strip_coord_spec();
    let ((left, top), (w, h)) = (plotting.get_base_pixel(), plotting.dim_in_pixel());
    let plot = Rect { left, top, right: left + w as i32 - 1, bottom: top + h as i32 - 1 };
    let legend = draw_legend(&plotting, chart, &drawn, &shaded)?;
    Ok(Layout { plot, legend, drawn, shaded })
}

/// The point a fraction `f` of the way from `a` to `b`, in whole pixels.
fn lerp(a: (i32, i32), b: (i32, i32), f: f64) -> (i32, i32) {
    let along = |p: i32, q: i32| p + ((q - p) as f64 * f).round() as i32;
    (along(a.0, b.0), along(a.1, b.1))
}

/// The legend box where it covers the fewest `drawn` line and marker pixels, then the fewest `shaded` band
/// points: a corner of the plotting area (upper right on a tie, then upper left, lower right, lower left),
/// else the middle of an edge. Returns the box in image pixels.
///
/// Drawn by hand rather than with plotters' series labels, whose boxed legend callbacks need
/// `'static` backends (our bitmap backend borrows its output path).
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    chart: &Chart,
    drawn: &[(i32, i32)],
    shaded: &[(i32, i32)],
) -> DrawResult<Option<Rect>, DB> {
    let entries: Vec<(&Series, RGBColor)> =
        chart.series.iter().zip(PALETTE.iter().cycle().copied()).filter(|(s, _)| !s.label.trim().is_empty()).collect();
    if entries.is_empty() {
        return Ok(None);
    }
    let style = font(LEGEND_PX);
    let (pad, glyph_w, gap, row_h) = (12, 40, 12, (LEGEND_PX * 1.6) as i32);
    let mut text_w = 0;
    for (s, _) in &entries {
        text_w = text_w.max(area.estimate_text_size(s.label.trim(), &style)?.0 as i32);
    }
    let (area_w, area_h) = area.dim_in_pixel();
    let (w, h) = (pad + glyph_w + gap + text_w + pad, pad + row_h * entries.len() as i32 + pad);
    let (right, bottom) = (area_w as i32 - w - 12, area_h as i32 - h - 12);
    let (centre, middle) = ((area_w as i32 - w) / 2, (area_h as i32 - h) / 2);
    let places = [
        (right, 12),
        (12, 12),
        (right, bottom),
        (12, bottom),
        (centre, 12),
        (centre, bottom),
        (12, middle),
        (right, middle),
    ];
    // `drawn` and `shaded` are in image pixels; the places are relative to the plotting area.
    let (base_x, base_y) = area.get_base_pixel();
    let covered = |points: &[(i32, i32)], (x0, y0): (i32, i32)| {
        let (x0, y0) = (base_x + x0, base_y + y0);
        points.iter().filter(|&&(x, y)| x >= x0 - 6 && x <= x0 + w + 6 && y >= y0 - 6 && y <= y0 + h + 6).count()
    };
    let (x0, y0) =
        places.iter().copied().min_by_key(|&p| (covered(drawn, p), covered(shaded, p))).expect("eight places");
    area.draw(&Rectangle::new([(x0, y0), (x0 + w, y0 + h)], WHITE.mix(0.8).filled()))?;
    area.draw(&Rectangle::new([(x0, y0), (x0 + w, y0 + h)], BLACK.mix(0.5).stroke_width(1)))?;
    let text_style = style.pos(Pos::new(HPos::Left, VPos::Center));
    for (i, (s, colour)) in entries.iter().enumerate() {
        let y = y0 + pad + row_h * i as i32 + row_h / 2;
        let (gx0, gx1) = (x0 + pad, x0 + pad + glyph_w);
        let stroke = colour.stroke_width(LINE_WIDTH);
        if !s.line.is_empty() && s.dashed {
            area.draw(&DashedPathElement::new(vec![(gx0, y), (gx1, y)], 11, 6, stroke))?;
        } else if !s.line.is_empty() {
            area.draw(&PathElement::new(vec![(gx0, y), (gx1, y)], stroke))?;
        } else if s.points.is_empty() {
            let swatch = colour.mix(2.0 * BAND_ALPHA).filled();
            area.draw(&Rectangle::new([(gx0, y - 8), (gx1, y + 8)], swatch))?;
        }
        if !s.points.is_empty() {
            area.draw(&Circle::new(((gx0 + gx1) / 2, y), MARKER_RADIUS, colour.filled()))?;
        }
        area.draw_text(s.label.trim(), &text_style, (gx1 + gap, y))?;
    }
    Ok(Some(Rect { left: base_x + x0, top: base_y + y0, right: base_x + x0 + w, bottom: base_y + y0 + h }))
}

/// Maximal contiguous runs of elements that satisfy `keep`, so one bad value breaks a line
/// instead of being joined across.
fn runs<T>(items: &[T], keep: impl Fn(&&T) -> bool) -> Vec<&[T]> {
    items.split(|item| !keep(&item)).filter(|run| !run.is_empty()).collect()
}

/// Maps of one non-negative number per pixel (e.g. per-pixel variance), side by side on one grey scale
/// (black 0, white the largest value of all panels), each under its label, with a colour bar.
#[derive(Clone, Debug, Default)]
pub struct Maps {
    pub title: String,
    /// What was measured, under the title (optional).
    pub caption: Option<String>,
    /// Image height and width of every panel.
    pub height: usize,
    pub width: usize,
    /// (label, `height × width` values, row-major).
    pub panels: Vec<(String, Vec<f64>)>,
    /// What the colour bar's numbers are, e.g. "variance".
    pub scale_label: String,
}

/// Where [`render_maps`] put things, in image pixels.
#[derive(Clone, Debug, PartialEq)]
pub struct MapsLayout {
    pub size: (u32, u32),
    /// One per panel, in order: the upscaled image itself.
    pub panels: Vec<Rect>,
    /// Image pixels per data pixel (nearest neighbour).
    pub scale: u32,
    /// The colour bar (white at the top).
    pub bar: Rect,
    /// The value shown as white.
    pub top: f64,
}

/// Panels per row of a maps figure.
const MAPS_PER_ROW: usize = 4;
/// Smallest width of a maps figure: readable next to the line charts.
const MAPS_MIN_WIDTH: u32 = 640;

/// Render `maps` to `path` (PNG): every data pixel a `scale × scale` block, `scale` chosen so that a panel
/// is about 160 px wide. Returns the layout.
pub fn render_maps(maps: &Maps, path: &Path) -> Result<MapsLayout, PlotError> {
    let draw_error = |message: String| PlotError::Draw { path: path.to_path_buf(), message };
    let (h, w) = (maps.height, maps.width);
    if maps.panels.is_empty() || h == 0 || w == 0 {
        return Err(PlotError::Empty { title: maps.title.clone() });
    }
    if let Some((label, _)) = maps.panels.iter().find(|(_, v)| v.len() != h * w) {
        return Err(draw_error(format!("panel '{label}' does not hold {h} × {w} values")));
    }
    let values = || maps.panels.iter().flat_map(|(_, v)| v.iter().copied()).filter(|v| v.is_finite());
    let top = values().fold(0.0f64, f64::max);
    let top = if top > 0.0 { top } else { 1.0 };

    let scale = 160usize.div_ceil(h.max(w)).clamp(1, 64) as i32;
    let (pw, ph) = (w as i32 * scale, h as i32 * scale);
    let cols = maps.panels.len().min(MAPS_PER_ROW) as i32;
    let rows = maps.panels.len().div_ceil(MAPS_PER_ROW) as i32;
    let (gap, label_h, bar_w, bar_labels) = (28, 30, 22, 110);
    let grid_w = cols * pw + (cols - 1) * gap;
    let content_w = grid_w + gap + bar_w + bar_labels;
    register_fonts().map_err(draw_error)?;
    // The title is one line: the figure is at least as wide (few panels would otherwise clip it).
    let title_w = {
        let mut pixel = [0u8; 3];
        let area = BitMapBackend::with_buffer(&mut pixel, (1, 1)).into_drawing_area();
        area.estimate_text_size(maps.title.trim(), &bold_font(TITLE_PX)).map_err(|e| draw_error(e.to_string()))?.0
    };
    let width = (content_w as u32 + 40).max(MAPS_MIN_WIDTH).max(title_w + 40);
    let (title_h, caption_line) = (50, (CAPTION_PX * 1.35).round() as i32);
    // The caption is wrapped to the width; its line count sets the height. Measured once on a scratch area.
    let caption = maps.caption.as_deref().map(str::trim).unwrap_or("");
    let caption_style = font(CAPTION_PX).color(&RGBColor(70, 70, 70));
    let mut scratch = vec![0u8; 3 * width as usize];
    let lines = {
        let area = BitMapBackend::with_buffer(&mut scratch, (width, 1)).into_drawing_area();
        if caption.is_empty() {
            Vec::new()
        } else {
            wrap(&area, caption, &caption_style, width - 60).map_err(|e| draw_error(e.to_string()))?
        }
    };
    let grid_top = title_h + lines.len() as i32 * caption_line + 16;
    let height = (grid_top + rows * (label_h + ph) + (rows - 1) * gap + 30) as u32;
    let left = (width as i32 - content_w) / 2;
    let panels: Vec<Rect> = (0..maps.panels.len() as i32)
        .map(|i| {
            let (x, y) = (left + (i % cols) * (pw + gap), grid_top + (i / cols) * (label_h + ph + gap) + label_h);
            Rect { left: x, top: y, right: x + pw - 1, bottom: y + ph - 1 }
        })
        .collect();
    let bar_x = left + grid_w + gap;
    let bar = Rect { left: bar_x, top: panels[0].top, right: bar_x + bar_w - 1, bottom: panels[0].top + ph - 1 };
    let layout = MapsLayout { size: (width, height), panels, scale: scale as u32, bar, top };
    let grey = |v: f64| {
        let g = (255.0 * (v / top).clamp(0.0, 1.0)).round() as u8;
        RGBColor(g, g, g)
    };

    write_figure(path, |tmp| {
        let root = BitMapBackend::new(tmp, (width, height)).into_drawing_area();
        let inner = || -> DrawResult<(), BitMapBackend> {
            root.fill(&WHITE)?;
            let centred = |px: f64, bold: bool| {
                let style = if bold { bold_font(px) } else { font(px) };
                style.pos(Pos::new(HPos::Center, VPos::Top))
            };
            root.draw_text(maps.title.trim(), &centred(TITLE_PX, true), (width as i32 / 2, 10))?;
            let caption_centred = caption_style.pos(Pos::new(HPos::Center, VPos::Top));
            for (i, line) in lines.iter().enumerate() {
                root.draw_text(line, &caption_centred, (width as i32 / 2, title_h + i as i32 * caption_line))?;
            }
            for ((label, values), r) in maps.panels.iter().zip(&layout.panels) {
                root.draw_text(
                    label.trim(),
                    &centred(LEGEND_PX, false),
                    ((r.left + r.right) / 2, r.top - label_h + 4),
                )?;
                for (i, &v) in values.iter().enumerate() {
                    let (x, y) = (r.left + (i % w) as i32 * scale, r.top + (i / w) as i32 * scale);
                    root.draw(&Rectangle::new([(x, y), (x + scale, y + scale)], grey(v).filled()))?;
                }
                root.draw(&Rectangle::new([(r.left - 1, r.top - 1), (r.right + 1, r.bottom + 1)], BLACK.mix(0.4)))?;
            }
            // The colour bar: white (top) at the top, 0 at the bottom, with round ticks.
            let b = layout.bar;
            let span = (b.bottom - b.top).max(1);
            for y in b.top..=b.bottom {
                let v = top * f64::from(b.bottom - y) / f64::from(span);
                root.draw(&Rectangle::new([(b.left, y), (b.right + 1, y + 1)], grey(v).filled()))?;
            }
            root.draw(&Rectangle::new([(b.left - 1, b.top - 1), (b.right + 1, b.bottom + 1)], BLACK.mix(0.6)))?;
            let mut ticks = linear_ticks(0.0, top);
            ticks.retain(|&t| t <= top * (1.0 + 1e-9));
            let format = tick_formatter(&(0.0..top), &ticks);
            let tick_style = font(TICK_PX).pos(Pos::new(HPos::Left, VPos::Center));
            for t in &ticks {
                let y = b.bottom - (f64::from(span) * t / top).round() as i32;
                root.draw(&PathElement::new(vec![(b.right + 1, y), (b.right + 6, y)], BLACK.stroke_width(1)))?;
                root.draw_text(&format(t), &tick_style, (b.right + 9, y))?;
            }
            let label_style = font(LEGEND_PX).pos(Pos::new(HPos::Center, VPos::Top));
            root.draw_text(maps.scale_label.trim(), &label_style, ((b.left + b.right) / 2, b.bottom + 8))?;
            root.present()
        };
        inner().map_err(|e| e.to_string())
    })?;
    Ok(layout)
}
