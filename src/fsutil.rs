//! Small file-system helpers shared by every layer.

use std::path::Path;

use serde::Serialize;

use crate::error::{Error, Result};

/// Writes `value` as pretty JSON to `path`, atomically (written aside, then renamed).
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(value).expect("serialises"))
        .map_err(Error::io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(Error::io(path))
}
