//! Files holding secrets (the demo's key, SQLite databases) are created readable by their
//! owner only: mode 0600 is given at creation, so there is no moment at which another user
//! could open them.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

/// Creates `path` (it must not exist) with mode 0600 on Unix.
pub fn create_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// Creates an empty `path` with mode 0600 unless it exists already (SQLite then creates its
/// `-wal` and `-shm` files with the database file's mode).
pub fn ensure_private(path: &Path) -> io::Result<()> {
    match create_private(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}
