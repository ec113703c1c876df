//! iOS backup folders (placeholder until the backup reader lands).

use super::Emit;
use std::path::PathBuf;

/// Options for `scan backup`.
#[derive(Debug, Clone, Default)]
pub struct BackupOptions {
    /// Password for encrypted backups (read from a file or the environment, never argv).
    pub password: Option<String>,
    pub include_personal_data: bool,
    /// Show a progress bar on stderr.
    pub progress: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("iOS backup support is not built yet")]
    NotBuilt,
}

/// Finds every backup under `paths` and emits one inventory per backup, in parallel.
pub fn scan(_paths: &[PathBuf], _opts: &BackupOptions, _emit: Emit<'_>) -> Result<(), BackupError> {
    Err(BackupError::NotBuilt)
}
