//! 2× down-sampling of images by 2×2 mean pooling, channel by channel.

use super::{DataError, Dataset, Shape};
use rayon::prelude::*;

impl Dataset {
    /// Every image halved in height and width (28×28 → 14×14), labels kept.
    ///
    /// # Formula
    /// `y[c, i, j] = ((x[c, 2i, 2j] + x[c, 2i, 2j+1]) + (x[c, 2i+1, 2j] + x[c, 2i+1, 2j+1])) / 4`
    /// in f32, summed in that order. A mean of values in [-1, 1] stays in [-1, 1].
    ///
    /// Errors: the rows are not images, or height or width is odd.
    pub fn downsample2(&self) -> Result<Dataset, DataError> {
        let Shape::Image { channels, height, width } = self.shape() else {
            return Err(DataError::NotImage { what: self.source().to_string(), found: self.shape() });
        };
        if !height.is_multiple_of(2) || !width.is_multiple_of(2) {
            return Err(DataError::OddSize { what: self.source().to_string(), height, width });
        }
        let shape = Shape::Image { channels, height: height / 2, width: width / 2 };
        let mut values = vec![0.0f32; self.len() * shape.dim()];
        values
            .par_chunks_mut(shape.dim())
            .zip(self.values().par_chunks(self.dim()))
            .for_each(|(out, image)| pool_image(image, channels, height, width, out));
        let labels = self.labels().map(<[u8]>::to_vec);
        Dataset::new(values, shape, labels, format!("{}, 2×2 mean-pooled", self.source()))
    }
}

/// One CHW image (even `height`, `width`) into `out` (channels × height/2 × width/2).
fn pool_image(image: &[f32], channels: usize, height: usize, width: usize, out: &mut [f32]) {
    let (h2, w2) = (height / 2, width / 2);
    for c in 0..channels {
        let plane = &image[c * height * width..(c + 1) * height * width];
        for i in 0..h2 {
            let top = &plane[2 * i * width..(2 * i + 1) * width];
            let bottom = &plane[(2 * i + 1) * width..(2 * i + 2) * width];
            for j in 0..w2 {
                let sum = (top[2 * j] + top[2 * j + 1]) + (bottom[2 * j] + bottom[2 * j + 1]);
                out[(c * h2 + i) * w2 + j] = sum * 0.25;
            }
        }
    }
}
