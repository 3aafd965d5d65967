//! Sample grids: images in [-1, 1] tiled into one PNG (8-bit grey or RGB), written atomically.

use super::atomic::with_temp_file;
use crate::data::Shape;
use std::io;
use std::path::Path;

/// Pixels between tiles (and around the grid), drawn mid-grey.
const GAP: usize = 2;

/// Tile the first `count` rows of `samples` (n × C·H·W, CHW order, values in [-1, 1]; clamped) into a grid
/// of ⌈√count⌉ columns, each pixel repeated `scale` times, and write it to `path` as PNG. Vector data has
/// no picture: an error.
pub fn write_grid(samples: &[f32], shape: Shape, count: usize, scale: usize, path: &Path) -> io::Result<()> {
    let count = count.min(samples.len() / shape.dim().max(1)).max(1);
    write_tiles(samples, shape, count, (count as f64).sqrt().ceil() as usize, scale, path)
}

/// Tile the first `count` rows of `samples` row by row into `cols` columns (tile i at row ⌊i/cols⌋,
/// column i mod cols), as [`write_grid`] does with ⌈√count⌉ columns.
pub fn write_tiles(
    samples: &[f32],
    shape: Shape,
    count: usize,
    cols: usize,
    scale: usize,
    path: &Path,
) -> io::Result<()> {
    let Shape::Image { channels, height, width } = shape else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("a {shape} sample is not an image")));
    };
    if channels != 1 && channels != 3 {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{channels} channels: grey (1) or RGB (3)")));
    }
    let d = channels * height * width;
    let count = count.min(samples.len() / d).max(1);
    let scale = scale.max(1);
    let cols = cols.clamp(1, count);
    let rows = count.div_ceil(cols);
    let (tile_w, tile_h) = (width * scale, height * scale);
    let (w, h) = (cols * (tile_w + GAP) + GAP, rows * (tile_h + GAP) + GAP);
    let mut pixels = vec![128u8; w * h * channels];
    for (i, image) in samples.chunks_exact(d).take(count).enumerate() {
        let (x0, y0) = (GAP + (i % cols) * (tile_w + GAP), GAP + (i / cols) * (tile_h + GAP));
        for y in 0..tile_h {
            for x in 0..tile_w {
                for c in 0..channels {
                    let v = image[c * height * width + (y / scale) * width + x / scale];
                    let byte = ((v.clamp(-1.0, 1.0) + 1.0) * 127.5).round() as u8;
                    pixels[((y0 + y) * w + x0 + x) * channels + c] = byte;
                }
            }
        }
    }
    with_temp_file(path, |tmp| {
        let file = std::io::BufWriter::new(std::fs::File::create(tmp)?);
        let mut encoder = png::Encoder::new(file, w as u32, h as u32);
        encoder.set_color(if channels == 1 { png::ColorType::Grayscale } else { png::ColorType::Rgb });
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(io::Error::other)?;
        writer.write_image_data(&pixels).map_err(io::Error::other)?;
        writer.finish().map_err(io::Error::other)
    })
}
