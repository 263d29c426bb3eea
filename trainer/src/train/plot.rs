//! `metrics.png`: the training loss per step and the validation nDCG@10 per epoch, side by side.

use std::path::Path;

use anyhow::{Context, Result};
use plotters::prelude::*;

use super::fit::{LogRow, TRAIN_LOSS, VALIDATION_NDCG};

/// Draws the curves of `log` into a PNG at `path` (written beside it, then renamed).
pub fn write(path: &Path, log: &[LogRow]) -> Result<()> {
    let loss: Vec<(f64, f64)> = log.iter().filter(|r| r.metric == TRAIN_LOSS).map(|r| (r.step as f64, r.value)).collect();
    let validation: Vec<(f64, f64)> = log.iter().filter(|r| r.metric == VALIDATION_NDCG).map(|r| (r.epoch as f64, r.value)).collect();
    let staging = path.with_extension("tmp.png");
    draw(&staging, &loss, &validation).map_err(|e| anyhow::anyhow!("drawing {}: {e}", path.display()))?;
    std::fs::rename(&staging, path).with_context(|| format!("renaming into {}", path.display()))
}

fn draw(path: &Path, loss: &[(f64, f64)], validation: &[(f64, f64)]) -> Result<(), Box<dyn std::error::Error>> {
    let root = BitMapBackend::new(path, (1200, 450)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(600);
    panel(&left, "training loss", "step", loss, &BLUE)?;
    panel(&right, "validation nDCG@10", "epoch", validation, &RED)?;
    root.present()?;
    Ok(())
}

fn panel(
    area: &DrawingArea<BitMapBackend, plotters::coord::Shift>,
    title: &str,
    x_label: &str,
    points: &[(f64, f64)],
    color: &RGBColor,
) -> Result<(), Box<dyn std::error::Error>> {
    let (x_min, x_max) = bounds(points.iter().map(|p| p.0));
    let (y_min, y_max) = bounds(points.iter().map(|p| p.1));
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 22))
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
