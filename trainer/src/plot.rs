//! PNG charts, drawn with plotters into a file beside the target and then renamed over it:
//! training curves (`metrics.png`: the loss per step and the validation nDCG@10 per epoch, side
//! by side) and embedding maps (`dowse viz`: groups of 2-D points, a colour each).

use std::path::Path;
use std::sync::OnceLock;

use anyhow::{Context, Result};
use plotters::prelude::*;
use plotters::style::register_font;

use crate::train::fit::{LogRow, TRAIN_LOSS, VALIDATION_PREFIX};

type DrawResult = Result<(), Box<dyn std::error::Error>>;

/// Draws the curves of `log` into a PNG at `path`.
pub fn training_curves(path: &Path, log: &[LogRow]) -> Result<()> {
    let loss: Vec<(f64, f64)> = log.iter().filter(|r| r.metric == TRAIN_LOSS).map(|r| (r.step as f64, r.value)).collect();
    let validation: Vec<(f64, f64)> =
        log.iter().filter(|r| r.metric.starts_with(VALIDATION_PREFIX)).map(|r| (r.epoch as f64, r.value)).collect();
    write(path, |file| draw_curves(file, &loss, &validation))
}

/// One named group of points of a scatter plot.
pub struct PointGroup<'a> {
    pub label: &'a str,
    pub points: &'a [[f32; 2]],
}

/// Draws `groups` as a scatter plot with a legend into a PNG at `path`; later groups on top.
pub fn scatter(path: &Path, title: &str, groups: &[PointGroup]) -> Result<()> {
    write(path, |file| draw_scatter(file, title, groups))
}

/// DejaVu Sans (its licence beside it), drawn through ab_glyph: charts need no font installed and
/// the binary no fontconfig, so training on a bare GPU machine does not stop at its first chart.
static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";

/// Runs `draw` on a staging file beside `path`, then renames it into place.
fn write(path: &Path, draw: impl FnOnce(&Path) -> DrawResult) -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    if !REGISTERED.get_or_init(|| register_font(FAMILY, FontStyle::Normal, FONT).is_ok()) {
        anyhow::bail!("drawing {}: the bundled font does not load", path.display());
    }
    let staging = path.with_extension("tmp.png");
    if let Err(e) = draw(&staging) {
        // A failed drawing leaves no half-written file behind; there may be none to remove.
        let _ = std::fs::remove_file(&staging);
        anyhow::bail!("drawing {}: {e}", path.display());
    }
    std::fs::rename(&staging, path).with_context(|| format!("renaming into {}", path.display()))
}

fn draw_scatter(path: &Path, title: &str, groups: &[PointGroup]) -> DrawResult {
    const COLOURS: [RGBColor; 4] = [RGBColor(170, 170, 170), RGBColor(31, 119, 180), RGBColor(214, 39, 40), RGBColor(44, 160, 44)];
    let root = BitMapBackend::new(path, (1000, 1000)).into_drawing_area();
    root.fill(&WHITE)?;
    let all = || groups.iter().flat_map(|g| g.points.iter());
    let (x_min, x_max) = bounds(all().map(|p| f64::from(p[0])));
    let (y_min, y_max) = bounds(all().map(|p| f64::from(p[1])));
    let mut chart = ChartBuilder::on(&root).caption(title, (FAMILY, 22)).margin(16).build_cartesian_2d(x_min..x_max, y_min..y_max)?;
    chart.configure_mesh().disable_mesh().draw()?;
    for (i, group) in groups.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let size = if i == 0 { 2 } else { 3 };
        chart
            .draw_series(group.points.iter().map(|p| Circle::new((f64::from(p[0]), f64::from(p[1])), size, colour.mix(0.8).filled())))?
            .label(format!("{} ({})", group.label, group.points.len()))
            .legend(move |(x, y)| Circle::new((x, y), 5, colour.filled()));
    }
    chart.configure_series_labels().background_style(WHITE.mix(0.9)).border_style(BLACK).label_font((FAMILY, 18)).draw()?;
    root.present()?;
    Ok(())
}

fn draw_curves(path: &Path, loss: &[(f64, f64)], validation: &[(f64, f64)]) -> DrawResult {
    let root = BitMapBackend::new(path, (1200, 450)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(600);
    panel(&left, "training loss", "step", loss, &BLUE)?;
    panel(&right, "validation (nDCG@10 or mean cosine)", "epoch", validation, &RED)?;
    root.present()?;
    Ok(())
}

fn panel(
    area: &DrawingArea<BitMapBackend, plotters::coord::Shift>,
    title: &str,
    x_label: &str,
    points: &[(f64, f64)],
    color: &RGBColor,
) -> DrawResult {
    let (x_min, x_max) = bounds(points.iter().map(|p| p.0));
    let (y_min, y_max) = bounds(points.iter().map(|p| p.1));
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FAMILY, 22))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(x_min..x_max, y_min..y_max)?;
    chart.configure_mesh().x_desc(x_label).light_line_style(WHITE.mix(0.0)).draw()?;
    chart.draw_series(LineSeries::new(points.iter().copied(), color))?;
    if points.len() < 50 {
        chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
    }
    Ok(())
}

/// A range around `values` that is never empty.
fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (min, max) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if !min.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((max - min) * 0.05).max(1e-3);
    (min - pad, max + pad)
}
