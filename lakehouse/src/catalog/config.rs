//! [`LakehouseConfig`]: where the catalog database and the warehouse live, parsed once into
//! typed locations so the rest of the crate never looks at URL strings again.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Where the lakehouse lives: an Iceberg SQL catalog database and a warehouse root.
///
/// ```toml
/// catalog_uri = "sqlite:///var/lib/hsi/warehouse/catalog.db?mode=rwc"  # or postgres://…
/// warehouse = "/var/lib/hsi/warehouse"                                  # or file://…, s3://bucket/prefix
///
/// [s3]                         # only for an s3:// warehouse
/// endpoint = "http://127.0.0.1:5100"
/// region = "us-east-1"
/// path_style = true
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LakehouseConfig {
    /// The SQL catalog database: `sqlite://PATH?mode=rwc` or `postgres://user:pw@host/db`.
    /// Empty means the embedded default, `sqlite://{warehouse}/catalog.db?mode=rwc` (local
    /// warehouses only).
    #[serde(default)]
    pub catalog_uri: String,
    /// The warehouse root: a local directory (`/path`, `./rel`, `file:///path`) or
    /// `s3://bucket/prefix`.
    pub warehouse: String,
    /// S3 client settings, required for an `s3://` warehouse.
    #[serde(default)]
    pub s3: Option<S3Config>,
}

impl fmt::Debug for LakehouseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LakehouseConfig")
            .field("catalog_uri", &redact_url_password(&self.catalog_uri))
            .field("warehouse", &self.warehouse)
            .field("s3", &self.s3)
            .finish()
    }
}

/// S3 client settings for an `s3://` warehouse (AWS, MinIO, moto).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Config {
    /// Endpoint URL for S3-compatible stores (`http://127.0.0.1:5100` for moto); `None` = AWS.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Region, e.g. `us-east-1`.
    pub region: String,
    /// Path-style addressing (`endpoint/bucket/key`), needed by moto and MinIO.
    #[serde(default)]
    pub path_style: bool,
    /// Static access key; `None` = the default AWS credential chain.
    #[serde(default)]
    pub access_key_id: Option<String>,
    /// Static secret key (never printed by `Debug`).
    #[serde(default)]
    pub secret_access_key: Option<String>,
}

impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("path_style", &self.path_style)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// The warehouse root, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warehouse {
    /// A local directory (absolute, created if missing).
    Local(PathBuf),
    /// An S3 prefix: `s3://bucket/prefix` (no trailing slash).
    S3 {
        /// The normalised `s3://bucket[/prefix]` URL.
        url: String,
    },
}

impl Warehouse {
    /// The location string handed to Iceberg: `file:///abs/path` or `s3://bucket/prefix`.
    pub fn location(&self) -> String {
        match self {
            Warehouse::Local(p) => format!("file://{}", p.display()),
            Warehouse::S3 { url } => url.clone(),
        }
    }
}

/// The catalog database flavour, from the URI scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatalogDb {
    /// SQLite: `?` placeholders.
    Sqlite,
    /// PostgreSQL: `$1..$n` placeholders.
    Postgres,
}

impl LakehouseConfig {
    /// The embedded default: a local directory warehouse with its SQLite catalog inside it.
    pub fn local(warehouse_dir: impl AsRef<Path>) -> Self {
        LakehouseConfig {
            catalog_uri: String::new(),
            warehouse: warehouse_dir.as_ref().display().to_string(),
            s3: None,
        }
    }

    /// Resolve the warehouse; a local directory is created and made absolute.
    pub fn resolve_warehouse(&self) -> Result<Warehouse> {
        let w = self.warehouse.trim();
        if w.is_empty() {
            return Err(Error::Config {
                reason: "warehouse is empty".into(),
            });
        }
        if let Some(rest) = strip_scheme(w, &["s3://", "s3a://"]) {
            let rest = rest.trim_end_matches('/');
            if rest.is_empty() || rest.starts_with('/') {
                return Err(Error::Config {
                    reason: format!("no bucket in warehouse {w:?}"),
                });
            }
            if self.s3.is_none() {
                return Err(Error::Config {
                    reason: format!("warehouse {w:?} is on S3 but the [s3] section is missing"),
                });
            }
            return Ok(Warehouse::S3 {
                url: format!("s3://{rest}"),
            });
        }
        let path = match w.strip_prefix("file://") {
            Some(p) => PathBuf::from(p),
            None if w.contains("://") => {
                return Err(Error::Config {
                    reason: format!(
                        "unsupported warehouse scheme in {w:?} (use a path, file:// or s3://)"
                    ),
                });
            }
            None => PathBuf::from(w),
        };
        std::fs::create_dir_all(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        let abs = path.canonicalize().map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        let abs_str = abs.to_str().ok_or_else(|| Error::Config {
            reason: format!("warehouse path {} is not UTF-8", abs.display()),
        })?;
        if abs_str.contains(['?', '#']) {
            return Err(Error::Config {
                reason: format!("warehouse path {abs_str:?} contains '?' or '#'"),
            });
        }
        Ok(Warehouse::Local(abs))
    }

    /// The catalog database URI (the embedded default filled in) and its flavour.
    pub fn resolve_catalog_uri(&self, warehouse: &Warehouse) -> Result<(String, CatalogDb)> {
        let uri = self.catalog_uri.trim();
        if uri.is_empty() {
            return match warehouse {
                Warehouse::Local(dir) => Ok((
                    format!("sqlite://{}/catalog.db?mode=rwc", dir.display()),
                    CatalogDb::Sqlite,
                )),
                Warehouse::S3 { .. } => Err(Error::Config {
                    reason: "an s3:// warehouse needs an explicit catalog_uri \
                             (a local SQLite file or PostgreSQL)"
                        .into(),
                }),
            };
        }
        if uri.starts_with("sqlite:") {
            Ok((uri.to_owned(), CatalogDb::Sqlite))
        } else if uri.starts_with("postgres://") || uri.starts_with("postgresql://") {
            Ok((uri.to_owned(), CatalogDb::Postgres))
        } else {
            Err(Error::Config {
                reason: format!(
                    "unsupported catalog_uri {:?} (use sqlite:// or postgres://)",
                    redact_url_password(uri)
                ),
            })
        }
    }
}

fn strip_scheme<'a>(s: &'a str, schemes: &[&str]) -> Option<&'a str> {
    schemes.iter().find_map(|p| s.strip_prefix(p))
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db` for logs and errors.
pub(crate) fn redact_url_password(uri: &str) -> String {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return uri.to_owned();
    };
    let (authority, tail) = rest
        .split_once('/')
        .map_or((rest, None), |(a, t)| (a, Some(t)));
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return uri.to_owned();
    };
    let Some((user, _password)) = userinfo.split_once(':') else {
        return uri.to_owned();
    };
    match tail {
        Some(t) => format!("{scheme}://{user}:***@{host}/{t}"),
        None => format!("{scheme}://{user}:***@{host}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_default_puts_sqlite_inside_the_warehouse() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = LakehouseConfig::local(dir.path().join("wh"));
        let wh = cfg.resolve_warehouse().unwrap();
        let abs = dir.path().canonicalize().unwrap().join("wh");
        assert_eq!(wh, Warehouse::Local(abs.clone()));
        assert_eq!(wh.location(), format!("file://{}", abs.display()));
        let (uri, db) = cfg.resolve_catalog_uri(&wh).unwrap();
        assert_eq!(
            uri,
            format!("sqlite://{}/catalog.db?mode=rwc", abs.display())
        );
        assert_eq!(db, CatalogDb::Sqlite);
    }

    #[test]
    fn s3_warehouse_needs_s3_section_and_explicit_catalog() {
        let mut cfg = LakehouseConfig {
            catalog_uri: String::new(),
            warehouse: "s3://bucket/lake/".into(),
            s3: None,
        };
        assert!(matches!(cfg.resolve_warehouse(), Err(Error::Config { .. })));
        cfg.s3 = Some(S3Config {
            endpoint: Some("http://127.0.0.1:5100".into()),
            region: "us-east-1".into(),
            path_style: true,
            access_key_id: Some("k".into()),
            secret_access_key: Some("s".into()),
        });
        let wh = cfg.resolve_warehouse().unwrap();
        assert_eq!(wh.location(), "s3://bucket/lake");
        assert!(cfg.resolve_catalog_uri(&wh).is_err());
        cfg.catalog_uri = "postgres://hsi:pw@db/hsi".into();
        assert_eq!(cfg.resolve_catalog_uri(&wh).unwrap().1, CatalogDb::Postgres);
        assert!(
            !format!("{cfg:?}").contains("pw@"),
            "password leaked: {cfg:?}"
        );
        assert!(
            !format!("{cfg:?}").contains("\"s\""),
            "secret leaked: {cfg:?}"
        );
    }

    #[test]
    fn config_rejects_unknown_fields_and_schemes() {
        let err = serde_json::from_str::<LakehouseConfig>(r#"{"warehouse":"/x","catalog":"y"}"#);
        assert!(err.is_err());
        let cfg = LakehouseConfig {
            catalog_uri: "mysql://x".into(),
            ..LakehouseConfig::local("/x")
        };
        assert!(
            cfg.resolve_catalog_uri(&Warehouse::Local("/x".into()))
                .is_err()
        );
        let cfg = LakehouseConfig::local("gs://bucket");
        assert!(cfg.resolve_warehouse().is_err());
    }

    #[test]
    fn redaction() {
        assert_eq!(
            redact_url_password("postgres://u:p@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(
            redact_url_password("sqlite:///tmp/c.db"),
            "sqlite:///tmp/c.db"
        );
    }
}
