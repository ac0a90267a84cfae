//! Catalog and storage, chosen by URL.
//!
//! # What is supported
//!
//! | `catalog_uri` | `warehouse` | storage |
//! |---|---|---|
//! | empty (embedded default) | local dir / `file://` | SQLite at `{warehouse}/catalog.db`, local FS |
//! | `sqlite://PATH?mode=rwc` | local dir / `file://` / `s3://` | local FS or S3 (opendal) |
//! | `postgres://user:pw@host/db` | local dir / `file://` / `s3://` | local FS or S3 (opendal) |
//!
//! The catalog is iceberg-rust's SQL catalog (`iceberg-catalog-sql` 0.10), registered under the
//! name [`CATALOG_NAME`]. It stores one row per table in `iceberg_tables`
//! (`catalog_name, table_namespace, table_name, metadata_location, previous_metadata_location,
//! iceberg_type`) and namespace properties in `iceberg_namespace_properties` — the same layout
//! as pyiceberg's and Java's JDBC catalogs, so pyiceberg opens it directly:
//!
//! ```python
//! from pyiceberg.catalog.sql import SqlCatalog
//! cat = SqlCatalog("hsi", uri="sqlite:////var/lib/hsi/warehouse/catalog.db",
//!                  warehouse="file:///var/lib/hsi/warehouse")
//! ```
//!
//! - **SQLite** needs `?mode=rwc` (create the file) and `?` placeholders (`QMark`).
//! - **PostgreSQL** uses `$1..$n` placeholders (`DollarNumeric`); the catalog creates its two
//!   tables on first connect. Tested only where a server is available (the embedded default is
//!   what CI exercises).
//! - **S3** goes through `iceberg-storage-opendal` with `s3.endpoint`, `s3.region`,
//!   `s3.path-style-access` and static keys from [`S3Config`]; without keys the default AWS
//!   credential chain applies. Against moto: `endpoint = "http://127.0.0.1:5100"`,
//!   `path_style = true`, any keys, `region = "us-east-1"`.
//!
//! Table locations are `{warehouse}/{namespace}/{table}` (`file:///…` for local warehouses, so
//! every reader resolves them the same way).
//!
//! # Commits and other catalogs
//!
//! [`open_catalog`] returns a [`LakeCatalog`]: iceberg-rust's `Catalog` plus the one
//! catalog-specific operation of [`crate::table::commit`], the fenced swap of a table's
//! metadata pointer ([`MetadataStore`](crate::table::commit::MetadataStore)). For the SQL
//! catalog that swap is [`MetadataPointers::compare_and_swap`] on the same row
//! `SqlCatalog::update_table` swaps. Every data commit (append, replace, rollback) is built
//! by `table::commit` and installed through that swap; schema changes still go through
//! iceberg-rust's `Transaction` and `Catalog::update_table`. Glue and REST catalogs plug in by
//! implementing the same swap (Glue: `UpdateTable` with the table's `VersionId` as the token;
//! REST: a commit request with `add-snapshot` + `set-snapshot-ref` and an
//! `assert-ref-snapshot-id` requirement).

mod config;
mod pointers;
mod sql;

use std::sync::Arc;

use iceberg::CatalogBuilder;
use iceberg::io::{LocalFsStorageFactory, StorageFactory};
use iceberg_catalog_sql::{SqlBindStyle, SqlCatalogBuilder};
use iceberg_storage_opendal::OpenDalStorageFactory;

pub(crate) use config::redact_url_password;
pub use config::{CatalogDb, LakehouseConfig, S3Config, Warehouse};
pub use pointers::MetadataPointers;
pub use sql::SqlLakeCatalog;

use crate::error::{Error, Result};
use crate::table::commit::LakeCatalog;

/// The catalog name under which tables are registered in the SQL catalog database.
pub const CATALOG_NAME: &str = "hsi";

/// Open the catalog described by `cfg` (creating a local warehouse directory and the SQLite
/// file if needed).
pub async fn open_catalog(cfg: &LakehouseConfig) -> Result<Arc<dyn LakeCatalog>> {
    let warehouse = cfg.resolve_warehouse()?;
    let (uri, db) = cfg.resolve_catalog_uri(&warehouse)?;
    let bind = match db {
        CatalogDb::Sqlite => SqlBindStyle::QMark,
        CatalogDb::Postgres => SqlBindStyle::DollarNumeric,
    };
    let factory: Arc<dyn StorageFactory> = match &warehouse {
        Warehouse::Local(_) => Arc::new(LocalFsStorageFactory),
        Warehouse::S3 { .. } => Arc::new(OpenDalStorageFactory::S3 {
            customized_credential_load: None,
        }),
    };
    let catalog = SqlCatalogBuilder::default()
        .uri(uri.clone())
        .warehouse_location(warehouse.location())
        .sql_bind_style(bind)
        .props(storage_props(cfg))
        .with_storage_factory(factory)
        .load(CATALOG_NAME, Default::default())
        .await
        .map_err(Error::iceberg(format!(
            "open SQL catalog {}",
            redact_url_password(&uri)
        )))?;
    let pointers = MetadataPointers::connect(cfg).await?;
    tracing::debug!(warehouse = %warehouse.location(), "opened SQL catalog");
    Ok(Arc::new(SqlLakeCatalog::new(catalog, pointers)))
}

/// `s3.*` FileIO properties (forwarded by the SQL catalog to its storage).
fn storage_props(cfg: &LakehouseConfig) -> std::collections::HashMap<String, String> {
    let mut props = std::collections::HashMap::new();
    if let Some(s3) = &cfg.s3 {
        if let Some(e) = &s3.endpoint {
            props.insert("s3.endpoint".to_owned(), e.clone());
        }
        props.insert("s3.region".to_owned(), s3.region.clone());
        props.insert("s3.path-style-access".to_owned(), s3.path_style.to_string());
        if let Some(k) = &s3.access_key_id {
            props.insert("s3.access-key-id".to_owned(), k.clone());
        }
        if let Some(s) = &s3.secret_access_key {
            props.insert("s3.secret-access-key".to_owned(), s.clone());
        }
    }
    props
}
