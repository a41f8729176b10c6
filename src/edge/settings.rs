//! Where this instance stands among the regions, and where the replicas are.

use std::path::PathBuf;

use crate::db::TenantId;

/// The name used for this instance's region when none is configured (a single-region server).
pub const LOCAL_REGION: &str = "local";

/// Region settings (`--region`, `--primary-region`, `--regions`, `--replica-url`, `--litestream`).
#[derive(Debug, Clone, Default)]
pub struct EdgeSettings {
    /// The region this instance serves.
    pub region: Option<String>,
    /// The region that owns the catalog. Unset: this is the only region (no routing).
    pub primary: Option<String>,
    /// Every region the app runs in, when listed: sign-up and moves only accept these.
    pub regions: Vec<String>,
    /// Root of the Litestream replicas, when replication is configured.
    pub replica: Option<ReplicaRoot>,
    /// Credentials for an S3 replica, Litestream's own (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    /// `AWS_SESSION_TOKEN`); voxedge uses them to copy recordings there. `None`: unsigned requests.
    pub replica_credentials: Option<ReplicaCredentials>,
    /// The Litestream executable.
    pub litestream: PathBuf,
    /// Where other regions are reached (the public origin, through Fly's proxy): `--public-url`.
    pub public_url: Option<String>,
}

/// An S3 access key (its secret is never printed).
#[derive(Clone)]
pub struct ReplicaCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl ReplicaCredentials {
    /// From `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`), as Litestream reads them.
    pub fn from_env() -> Option<Self> {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Some(Self {
            access_key_id: env("AWS_ACCESS_KEY_ID")?,
            secret_access_key: env("AWS_SECRET_ACCESS_KEY")?,
            session_token: env("AWS_SESSION_TOKEN"),
        })
    }
}

impl std::fmt::Debug for ReplicaCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplicaCredentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

impl EdgeSettings {
    /// Several regions: requests are routed by tenant, catalog writes go to the primary.
    pub fn multi_region(&self) -> bool {
        self.primary.is_some()
    }

    /// This instance's region (`local` when none is configured).
    pub fn region(&self) -> &str {
        self.region.as_deref().unwrap_or(LOCAL_REGION)
    }

    /// The region that owns the catalog (this one on a single-region server).
    pub fn primary(&self) -> &str {
        self.primary.as_deref().unwrap_or_else(|| self.region())
    }

    /// True where the catalog is written: the primary region, or a single-region server.
    pub fn is_primary(&self) -> bool {
        self.primary() == self.region()
    }

    /// Checks the combination at start-up.
    pub fn validate(&self) -> Result<(), RegionsError> {
        for region in self.region.iter().chain(&self.primary).chain(&self.regions) {
            if !is_region_code(region) {
                return Err(RegionsError::NotARegionCode(region.clone()));
            }
        }
        if self.primary.is_some() && self.region.is_none() {
            return Err(RegionsError::PrimaryWithoutRegion);
        }
        if !self.is_primary() && self.replica.is_none() {
            return Err(RegionsError::FollowerWithoutReplica {
                region: self.region().to_string(),
                primary: self.primary().to_string(),
            });
        }
        if !self.regions.is_empty() {
            for region in self.region.iter().chain(&self.primary) {
                if !self.regions.contains(region) {
                    return Err(RegionsError::NotListed(region.clone()));
                }
            }
        }
        Ok(())
    }

    /// Whether `region` may home tenants.
    pub fn knows(&self, region: &str) -> bool {
        is_region_code(region)
            && (self.regions.is_empty() || self.regions.iter().any(|r| r == region))
    }
}

/// Why the region settings cannot work together ([`EdgeSettings::validate`]).
#[derive(Debug, thiserror::Error)]
pub enum RegionsError {
    #[error("{0:?} is not a region code (lowercase letters and digits, 2 to 16)")]
    NotARegionCode(String),
    #[error("--primary-region needs --region (or FLY_REGION)")]
    PrimaryWithoutRegion,
    #[error(
        "region {region} is not the primary ({primary}): it follows the primary's catalog, so it needs --replica-url"
    )]
    FollowerWithoutReplica { region: String, primary: String },
    #[error("region {0} is not in --regions")]
    NotListed(String),
}

/// Fly region codes are three letters; anything short, lowercase and alphanumeric is accepted.
pub fn is_region_code(value: &str) -> bool {
    (2..=16).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// The root URL of the Litestream replicas (`s3://bucket/prefix?endpoint=…`, `file:///dir`), laid out as
/// `deploy/litestream-config` writes them:
///
/// ```text
/// ROOT/catalog                          the primary's catalog
/// ROOT/regions/<region>/tenants/<id>.db each tenant file, under the region it lives in
/// ROOT/regions/<region>/region          that region's region.db
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaRoot {
    /// Scheme, authority and path, without a trailing slash.
    base: String,
    /// The query string (S3 endpoint, region, path style), without `?`.
    query: Option<String>,
}

impl ReplicaRoot {
    /// Accepts `scheme://…` URLs; Litestream itself checks the scheme is one it knows.
    pub fn parse(url: &str) -> Result<Self, String> {
        let url = url.trim();
        let (base, query) = match url.split_once('?') {
            Some((base, query)) => (base, Some(query.to_string())),
            None => (url, None),
        };
        let Some((scheme, rest)) = base.split_once("://") else {
            return Err(
                "expected a replica URL such as s3://bucket/voxedge or file:///replicas".into(),
            );
        };
        if scheme.is_empty() || rest.trim_matches('/').is_empty() {
            return Err("the replica URL needs a bucket or a path".into());
        }
        Ok(Self {
            base: base.trim_end_matches('/').to_string(),
            query: query.filter(|q| !q.is_empty()),
        })
    }

    /// Scheme, authority and path (`s3://bucket/prefix`, `file:///dir`), without a trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The value of query parameter `name` (`endpoint`, `region`, `forcePathStyle`).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .as_deref()?
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find_map(|(key, value)| (key == name).then_some(value))
    }

    /// The URL of `path` under the root.
    pub fn join(&self, path: &str) -> String {
        match &self.query {
            Some(query) => format!("{}/{path}?{query}", self.base),
            None => format!("{}/{path}", self.base),
        }
    }

    /// The primary's catalog.
    pub fn catalog(&self) -> String {
        self.join("catalog")
    }

    /// Tenant `id`'s file as replicated from `region`.
    pub fn tenant(&self, region: &str, id: TenantId) -> String {
        self.join(&format!("regions/{region}/tenants/{}", id.file_name()))
    }

    /// `region`'s own region.db.
    pub fn region_db(&self, region: &str) -> String {
        self.join(&format!("regions/{region}/region"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replica_urls_keep_their_query_at_the_end() {
        let root =
            ReplicaRoot::parse("s3://bucket/voxedge/?endpoint=http://x:9000&region=auto").unwrap();
        assert_eq!(
            root.catalog(),
            "s3://bucket/voxedge/catalog?endpoint=http://x:9000&region=auto"
        );
        let id: TenantId = "01J0000000000000000000000A".parse().unwrap();
        assert_eq!(
            ReplicaRoot::parse("file:///r").unwrap().tenant("fra", id),
            "file:///r/regions/fra/tenants/01J0000000000000000000000A.db"
        );
        assert!(ReplicaRoot::parse("bucket/path").is_err());
        assert!(ReplicaRoot::parse("s3://").is_err());
    }

    #[test]
    fn regions_are_checked_together() {
        let mut s = EdgeSettings::default();
        assert!(s.validate().is_ok() && s.is_primary() && !s.multi_region());
        s.primary = Some("iad".into());
        assert!(s.validate().is_err(), "a primary needs a region");
        s.region = Some("fra".into());
        assert!(s.validate().is_err(), "a follower needs a replica");
        s.replica = Some(ReplicaRoot::parse("file:///r").unwrap());
        assert!(s.validate().is_ok() && !s.is_primary() && s.multi_region());
        s.regions = vec!["iad".into()];
        assert!(s.validate().is_err(), "fra is not listed");
        s.regions.push("fra".into());
        assert!(s.validate().is_ok() && s.knows("iad") && !s.knows("syd"));
        s.region = Some("FRA".into());
        assert!(s.validate().is_err());
    }
}
