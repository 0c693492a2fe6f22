//! The PSNR-against-level chart of an evaluation, as a PNG.

use std::path::Path;

use anyhow::{Context, anyhow};
use plotters::prelude::*;

/// DejaVu Sans from Debian's fonts-dejavu-core (scripts/setup installs it).
const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

/// Draws each named series of (level, PSNR) points into a PNG at `path`.
pub fn psnr_chart(
    path: &Path,
    title: &str,
    series: &[(&str, Vec<(f64, f64)>)],
) -> anyhow::Result<()> {
    register_font()?;
    let points = series.iter().flat_map(|(_, s)| s.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in points {
        (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
    }
    anyhow::ensure!(x0 <= x1, "nothing to plot");
    let (x_pad, y_pad) = (((x1 - x0) * 0.05).max(0.5), ((y1 - y0) * 0.08).max(0.5));
    let root = BitMapBackend::new(path, (900, 600)).into_drawing_area();
    let draw = |e: DrawingAreaErrorKind<_>| anyhow!("drawing {}: {e}", path.display());
    root.fill(&WHITE).map_err(draw)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d((x0 - x_pad)..(x1 + x_pad), (y0 - y_pad)..(y1 + y_pad))
        .map_err(draw)?;
    chart
        .configure_mesh()
        .x_desc("level")
        .y_desc("PSNR (dB)")
        .label_style(("sans-serif", 15))
        .draw()
        .map_err(draw)?;
    for (i, (name, points)) in series.iter().enumerate() {
        let colour = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                colour.stroke_width(2),
            ))
            .map_err(draw)?
            .label(*name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
            });
        chart
            .draw_series(points.iter().map(|&p| Circle::new(p, 4, colour.filled())))
            .map_err(draw)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", 15))
        .draw()
        .map_err(draw)?;
    root.present().map_err(draw)?;
    Ok(())
}

/// Makes the system's DejaVu Sans plotters' "sans-serif" (once per process).
fn register_font() -> anyhow::Result<()> {
    static REGISTERED: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            let bytes = std::fs::read(FONT)
                .map_err(|e| format!("{FONT}: {e} (install fonts-dejavu-core)"))?;
            plotters::style::register_font(
                "sans-serif",
                FontStyle::Normal,
                Box::leak(bytes.into_boxed_slice()),
            )
            .map_err(|_| format!("{FONT}: not a usable font"))
        })
        .clone()
        .map_err(|e| anyhow!(e))
        .context("loading the chart font")
}
