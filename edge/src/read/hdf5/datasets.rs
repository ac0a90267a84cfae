//! Checked access to the small datasets of the layout (`/wavelength_nm`, `/dark`, ...).
//!
//! Every helper checks rank, shape and element type against what the cube implies **before**
//! reading, so a dataset that declares absurd dimensions is refused without allocating, and a
//! frame of the wrong shape is reported as [`Error::ShapeMismatch`] naming the dataset.

use std::path::Path;

use hdf5::types::TypeDescriptor;
use ndarray::{Array1, Array2};

use crate::error::{Error, Result};

/// Wrap an HDF5 library error with the file and the dataset/attribute it concerns.
pub(crate) fn h5_error(path: &Path, dataset: &str, err: impl std::fmt::Display) -> Error {
    Error::Hdf5 {
        path: path.to_path_buf(),
        dataset: dataset.to_owned(),
        reason: err.to_string(),
    }
}

/// `[a, b, c]`, the way shapes appear in error messages.
pub(crate) fn shape_str(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(ToString::to_string).collect();
    format!("[{}]", dims.join(", "))
}

/// Whether a type descriptor is a plain number (integer or float) HDF5 can convert to `f32`.
pub(crate) fn is_numeric(desc: &TypeDescriptor) -> bool {
    matches!(
        desc,
        TypeDescriptor::Integer(_) | TypeDescriptor::Unsigned(_) | TypeDescriptor::Float(_)
    )
}

/// The dataset `/name` at the root, or `None` when no such link exists.
pub(crate) fn optional_dataset(
    path: &Path,
    file: &hdf5::File,
    name: &str,
) -> Result<Option<hdf5::Dataset>> {
    if !file.link_exists(name) {
        return Ok(None);
    }
    file.dataset(name)
        .map(Some)
        .map_err(|e| h5_error(path, &format!("/{name}"), e))
}

/// The dataset `/name` at the root; [`Error::Missing`] with `why` when absent.
pub(crate) fn required_dataset(
    path: &Path,
    file: &hdf5::File,
    name: &str,
    why: &str,
) -> Result<hdf5::Dataset> {
    optional_dataset(path, file, name)?.ok_or_else(|| Error::missing(path, format!("/{name}"), why))
}

/// The element type of a dataset, which must be numeric.
fn numeric_type(path: &Path, key: &str, ds: &hdf5::Dataset) -> Result<TypeDescriptor> {
    let desc = ds
        .dtype()
        .and_then(|t| t.to_descriptor())
        .map_err(|e| h5_error(path, key, e))?;
    if is_numeric(&desc) {
        Ok(desc)
    } else {
        Err(Error::invalid(
            path,
            key,
            format!("expected a numeric dataset (float32), found element type {desc}"),
        ))
    }
}

/// Refuse NaN and infinities, naming the first offending element.
fn ensure_finite<'a>(
    path: &Path,
    key: &str,
    values: impl IntoIterator<Item = &'a f32>,
) -> Result<()> {
    match values.into_iter().enumerate().find(|(_, v)| !v.is_finite()) {
        Some((i, v)) => Err(Error::invalid(
            path,
            key,
            format!("element {i} is {v}: values must be finite"),
        )),
        None => Ok(()),
    }
}

/// Read a rank-1 numeric dataset of exactly `len` elements as `f32`, refusing non-finite values.
pub(crate) fn read_vector(path: &Path, ds: &hdf5::Dataset, len: usize) -> Result<Array1<f32>> {
    let key = ds.name();
    let shape = ds.shape();
    if shape.len() != 1 {
        return Err(Error::invalid(
            path,
            &key,
            format!("expected rank 1 [bands], found shape {}", shape_str(&shape)),
        ));
    }
    if shape != [len] {
        return Err(Error::ShapeMismatch {
            path: path.to_path_buf(),
            key,
            expected: shape_str(&[len]),
            found: shape_str(&shape),
        });
    }
    numeric_type(path, &key, ds)?;
    let values = ds.read_1d::<f32>().map_err(|e| h5_error(path, &key, e))?;
    ensure_finite(path, &key, values.iter())?;
    Ok(values)
}

/// Read a rank-2 numeric `[samples, bands]` frame as `f32`, refusing non-finite values.
pub(crate) fn read_frame(
    path: &Path,
    ds: &hdf5::Dataset,
    samples: usize,
    bands: usize,
) -> Result<Array2<f32>> {
    let key = ds.name();
    let shape = ds.shape();
    if shape.len() != 2 {
        return Err(Error::invalid(
            path,
            &key,
            format!(
                "expected rank 2 [samples, bands], found shape {}",
                shape_str(&shape)
            ),
        ));
    }
    if shape != [samples, bands] {
        return Err(Error::ShapeMismatch {
            path: path.to_path_buf(),
            key,
            expected: shape_str(&[samples, bands]),
            found: shape_str(&shape),
        });
    }
    numeric_type(path, &key, ds)?;
    let values = ds.read_2d::<f32>().map_err(|e| h5_error(path, &key, e))?;
    ensure_finite(path, &key, values.iter())?;
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_print_like_numpy_lists() {
        assert_eq!(shape_str(&[3, 224]), "[3, 224]");
        assert_eq!(shape_str(&[]), "[]");
    }

    #[test]
    fn non_finite_values_are_named() {
        let err = ensure_finite(Path::new("/x.h5"), "/dark", [1.0, f32::NAN].iter())
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("/x.h5: invalid `/dark`: element 1 is NaN: values must be finite")
        );
    }
}
