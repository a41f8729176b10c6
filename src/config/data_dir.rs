//! [`DataDir`]: where a server keeps its files.

use std::path::{Path, PathBuf};

/// The data directory layout: `catalog.db` plus `tenants/<tenant-id>.db`.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn catalog(&self) -> PathBuf {
        self.root.join("catalog.db")
    }

    pub fn tenants(&self) -> PathBuf {
        self.root.join("tenants")
    }

    /// Call recordings, one folder per tenant (`recordings/<tenant>/<call>.flac`).
    pub fn recordings(&self) -> PathBuf {
        self.root.join("recordings")
    }

    /// `region.db`: this machine's own state (webhook queue, tenants that moved away).
    pub fn region_db(&self) -> PathBuf {
        self.root.join("region.db")
    }

    /// Where the catalog replica is restored and followed (outside the primary region).
    pub fn replica(&self) -> PathBuf {
        self.root.join("replica")
    }

    /// Where restores from the replica are staged before they replace a tenant (never replicated).
    pub fn staging(&self) -> PathBuf {
        self.root.join("staging")
    }

    /// Tenant files that moved to another region, kept until an operator deletes them.
    pub fn moved(&self) -> PathBuf {
        self.root.join("moved")
    }

    /// Creates the directories if missing.
    pub fn ensure(&self) -> std::io::Result<()> {
        std::fs::create_dir_all(self.tenants())
    }
}
