//! The embedding map: every passage's point from the bundle's PCA projection drawn on a canvas,
//! the current results and the query marked, and the nearest point found under the pointer.

use wasm_bindgen::JsCast;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement};

/// Margin around the points, in canvas pixels.
const MARGIN: f64 = 14.0;
/// How close the pointer must be to a point to name it, in canvas pixels.
const HOVER_RADIUS: f64 = 8.0;

/// Maps projection coordinates onto a canvas of a given size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frame {
    min: [f32; 2],
    max: [f32; 2],
    width: f64,
    height: f64,
}

impl Frame {
    /// A frame holding every point.
    pub fn fit(points: &[[f32; 2]], width: f64, height: f64) -> Self {
        let mut min = [f32::INFINITY; 2];
        let mut max = [f32::NEG_INFINITY; 2];
        for point in points {
            for axis in 0..2 {
                min[axis] = min[axis].min(point[axis]);
                max[axis] = max[axis].max(point[axis]);
            }
        }
        if points.is_empty() {
            (min, max) = ([-1.0; 2], [1.0; 2]);
        }
        Self { min, max, width, height }
    }

    /// Canvas pixels of `point`; points outside the frame (a far-off query) are clamped to its edge.
    pub fn place(&self, point: [f32; 2]) -> (f64, f64) {
        let scale = |v: f32, axis: usize, size: f64| {
            let span = (self.max[axis] - self.min[axis]).max(f32::EPSILON);
            let t = f64::from(((v - self.min[axis]) / span).clamp(0.0, 1.0));
            MARGIN + t * (size - 2.0 * MARGIN)
        };
        (scale(point[0], 0, self.width), self.height - scale(point[1], 1, self.height))
    }

    /// The point nearest to canvas position (`x`, `y`), if one is within reach.
    pub fn nearest(&self, points: &[[f32; 2]], x: f64, y: f64) -> Option<usize> {
        let distance = |p: &[f32; 2]| {
            let (px, py) = self.place(*p);
            (px - x).powi(2) + (py - y).powi(2)
        };
        let (index, best) = points.iter().map(distance).enumerate().min_by(|a, b| a.1.total_cmp(&b.1))?;
        (best <= HOVER_RADIUS * HOVER_RADIUS).then_some(index)
    }
}

/// Draws every point grey, `highlighted` ones (the results, best first) orange with their rank,
/// and the query as a red ring.
pub fn draw(canvas: &HtmlCanvasElement, points: &[[f32; 2]], highlighted: &[u32], query: Option<[f32; 2]>) {
    let Some(context) = canvas.get_context("2d").ok().flatten().and_then(|c| c.dyn_into::<CanvasRenderingContext2d>().ok()) else {
        return;
    };
    let frame = Frame::fit(points, f64::from(canvas.width()), f64::from(canvas.height()));
    context.clear_rect(0.0, 0.0, frame.width, frame.height);
    context.set_fill_style_str("rgba(90, 100, 120, 0.35)");
    for point in points {
        let (x, y) = frame.place(*point);
        context.fill_rect(x - 1.0, y - 1.0, 2.0, 2.0);
    }
    context.set_fill_style_str("#e07b00");
    context.set_font("11px sans-serif");
    for (rank, &passage) in highlighted.iter().enumerate().rev() {
        let Some(point) = points.get(passage as usize) else { continue };
        let (x, y) = frame.place(*point);
        context.begin_path();
        let _ = context.arc(x, y, 4.0, 0.0, std::f64::consts::TAU);
        context.fill();
        let _ = context.fill_text(&(rank + 1).to_string(), x + 5.0, y - 4.0);
    }
    if let Some(query) = query {
        let (x, y) = frame.place(query);
        context.set_stroke_style_str("#d0021b");
        context.set_line_width(2.5);
        context.begin_path();
        let _ = context.arc(x, y, 7.0, 0.0, std::f64::consts::TAU);
        context.stroke();
    }
}
