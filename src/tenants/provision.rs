//! Provisioning tenants: a catalog row plus a tenant database made from `tenant-template/`.

use super::TenantError;
use crate::clock::now_ms;
use crate::db::{Database, StorageError, TenantId, TenantStore};
use crate::error::{ErrorCode, InvalidInput};
use crate::repo;
use crate::repo::tenants::TenantRecord;

/// Longest tenant name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// Creates a tenant: its database file first, then its catalog row, so a catalog row never points at a
/// missing file. (A crash in between leaves an orphan file that nothing references, which is harmless.)
pub async fn provision(
    catalog: &Database,
    store: &TenantStore,
    name: &str,
    home_region: Option<String>,
) -> Result<TenantRecord, TenantError> {
    let name = validate_name(name, "name")?;
    let id = TenantId::generate();
    store.create(id).await?;
    let created = register(catalog, id, name, home_region).await;
    if created.is_err() {
        let path = store.path_of(id);
        let _ = tokio::task::spawn_blocking(move || std::fs::remove_file(path)).await;
    }
    created
}

/// Adds the catalog row of a tenant whose file already exists (here, or in its home region), with a unique
/// slug. `name` must be validated already.
pub async fn register(
    catalog: &Database,
    id: TenantId,
    name: String,
    home_region: Option<String>,
) -> Result<TenantRecord, TenantError> {
    let base_slug = slugify(&name);
    let created = catalog
        .write(move |tx| {
            let slug = unique_slug(tx, &base_slug)?;
            let record = TenantRecord {
                id,
                slug,
                name,
                home_region,
                plan: "free".into(),
                status: "active".into(),
                created_at: now_ms(),
            };
            repo::tenants::insert(tx, &record)?;
            // The tenant is billed on its plan from the moment it exists.
            repo::billing::set_tenant_plan(
                tx,
                id,
                &repo::billing::TenantPlan {
                    effective_from: record.created_at,
                    plan: record.plan.clone(),
                    overrides: Default::default(),
                    changed_by: "provision".into(),
                },
            )?;
            Ok::<_, StorageError>(record)
        })
        .await?;
    Ok(created)
}

/// Trims a display name and checks it is 1..=100 printable characters.
pub fn validate_name(name: &str, field: &str) -> Result<String, InvalidInput> {
    let trimmed = name.trim();
    let problem = if trimmed.is_empty() {
        Some((ErrorCode::Required, "must not be empty".to_string()))
    } else if trimmed.chars().count() > MAX_NAME_CHARS {
        Some((
            ErrorCode::TooLong,
            format!("must be at most {MAX_NAME_CHARS} characters"),
        ))
    } else if trimmed.chars().any(char::is_control) {
        Some((
            ErrorCode::InvalidCharacters,
            "must not contain control characters".to_string(),
        ))
    } else {
        None
    };
    match problem {
        Some((code, message)) => Err(InvalidInput::field(field, code, message)),
        None => Ok(trimmed.to_string()),
    }
}

/// A URL-safe form of a name: lowercase ASCII letters and digits separated by single dashes.
pub fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
        if slug.len() >= 48 {
            break;
        }
    }
    let slug = slug.trim_end_matches('-');
    if slug.is_empty() {
        "tenant".to_string()
    } else {
        slug.to_string()
    }
}

fn unique_slug(conn: &rusqlite::Connection, base: &str) -> Result<String, StorageError> {
    if !repo::tenants::slug_taken(conn, base)? {
        return Ok(base.to_string());
    }
    for n in 2.. {
        let candidate = format!("{base}-{n}");
        if !repo::tenants::slug_taken(conn, &candidate)? {
            return Ok(candidate);
        }
    }
    unreachable!("the loop above only ends by returning")
}

/// Looks a tenant up in the catalog.
pub async fn find(catalog: &Database, id: TenantId) -> Result<TenantRecord, TenantError> {
    catalog
        .read(move |conn| repo::tenants::get(conn, id))
        .await?
        .ok_or(TenantError::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_url_safe() {
        assert_eq!(slugify("Acme Corp."), "acme-corp");
        assert_eq!(slugify("  Ünïcode & Co  "), "n-code-co");
        assert_eq!(slugify("!!!"), "tenant");
        assert!(slugify(&"x".repeat(500)).len() <= 48);
    }

    #[test]
    fn names_are_validated() {
        assert_eq!(validate_name("  Acme ", "name").unwrap(), "Acme");
        for bad in ["", "   ", "a\u{7}b"] {
            assert!(validate_name(bad, "name").is_err());
        }
        let long = "x".repeat(MAX_NAME_CHARS + 1);
        assert_eq!(
            validate_name(&long, "name").unwrap_err().0[0].code,
            ErrorCode::TooLong
        );
    }
}
