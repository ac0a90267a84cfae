//! Direct access to the SQL catalog's metadata pointers, for the one operation iceberg-rust
//! 0.10 cannot express through `Catalog::update_table`: moving `main` to an older snapshot.
//!
//! The SQL catalog keeps, per table, one row of `iceberg_tables`:
//! `(catalog_name, table_namespace, table_name, metadata_location, previous_metadata_location,
//! iceberg_type)`, primary key on the first three; `table_namespace` is the namespace levels
//! joined with `.`. A commit is a compare-and-swap of `metadata_location`:
//!
//! ```sql
//! UPDATE iceberg_tables SET metadata_location = :new, previous_metadata_location = :old
//!  WHERE catalog_name = :c AND table_namespace = :ns AND table_name = :t
//!    AND metadata_location = :old
//! ```
//!
//! which is exactly what `SqlCatalog::update_table` runs, so writers going through the catalog
//! and writers going through [`MetadataPointers::compare_and_swap`] exclude each other: whoever
//! swaps second sees zero rows updated and gets a retryable [`Error::Conflict`].

use iceberg::TableIdent;
use sqlx::AnyPool;
use sqlx::Row;
use sqlx::any::AnyPoolOptions;

use super::{CATALOG_NAME, CatalogDb, LakehouseConfig, redact_url_password};
use crate::error::{Error, Result};

/// A connection to the SQL catalog database for pointer reads and compare-and-swap.
#[derive(Debug, Clone)]
pub struct MetadataPointers {
    pool: AnyPool,
    db: CatalogDb,
    catalog_name: String,
}

impl MetadataPointers {
    /// Connect to the catalog database of `cfg` (the same database [`super::open_catalog`]
    /// uses; open the catalog first so its tables exist).
    pub async fn connect(cfg: &LakehouseConfig) -> Result<Self> {
        let warehouse = cfg.resolve_warehouse()?;
        let (uri, db) = cfg.resolve_catalog_uri(&warehouse)?;
        sqlx::any::install_default_drivers();
        let pool = AnyPoolOptions::new()
            .max_connections(2)
            .connect(&uri)
            .await
            .map_err(Error::sql(format!("connect {}", redact_url_password(&uri))))?;
        Ok(MetadataPointers {
            pool,
            db,
            catalog_name: CATALOG_NAME.to_owned(),
        })
    }

    /// The table's current `metadata_location`.
    pub async fn current(&self, ident: &TableIdent) -> Result<String> {
        let sql = self.placeholders(
            "SELECT metadata_location FROM iceberg_tables \
             WHERE catalog_name = ? AND table_namespace = ? AND table_name = ? \
               AND (iceberg_type = 'TABLE' OR iceberg_type IS NULL)",
        );
        let namespace = ident.namespace().join(".");
        let row = sqlx::query(&sql)
            .bind(self.catalog_name.as_str())
            .bind(namespace.as_str())
            .bind(ident.name())
            .fetch_optional(&self.pool)
            .await
            .map_err(Error::sql(format!("read metadata pointer of {ident}")))?;
        let row = row.ok_or_else(|| Error::InvalidInput {
            reason: format!("table {ident} is not in catalog {:?}", self.catalog_name),
        })?;
        row.try_get::<String, _>(0)
            .map_err(Error::sql(format!("read metadata_location of {ident}")))
    }

    /// Point `ident` at `new_location` if it still points at `expected_location`.
    ///
    /// Fails with a retryable [`Error::Conflict`] when another commit got there first.
    pub async fn compare_and_swap(
        &self,
        ident: &TableIdent,
        expected_location: &str,
        new_location: &str,
    ) -> Result<()> {
        let sql = self.placeholders(
            "UPDATE iceberg_tables SET metadata_location = ?, previous_metadata_location = ? \
             WHERE catalog_name = ? AND table_namespace = ? AND table_name = ? \
               AND (iceberg_type = 'TABLE' OR iceberg_type IS NULL) \
               AND metadata_location = ?",
        );
        let namespace = ident.namespace().join(".");
        let done = sqlx::query(&sql)
            .bind(new_location)
            .bind(expected_location)
            .bind(self.catalog_name.as_str())
            .bind(namespace.as_str())
            .bind(ident.name())
            .bind(expected_location)
            .execute(&self.pool)
            .await
            .map_err(Error::sql(format!("swap metadata pointer of {ident}")))?;
        if done.rows_affected() == 0 {
            return Err(Error::Conflict {
                table: ident.to_string(),
                reason: format!(
                    "metadata pointer is no longer {expected_location} (another commit won)"
                ),
            });
        }
        Ok(())
    }

    /// `?` → `$n` for PostgreSQL (there are no `?` inside the literals above).
    fn placeholders(&self, sql: &str) -> String {
        match self.db {
            CatalogDb::Sqlite => sql.to_owned(),
            CatalogDb::Postgres => {
                let mut out = String::with_capacity(sql.len() + 8);
                let mut n = 0;
                for c in sql.chars() {
                    if c == '?' {
                        n += 1;
                        out.push('$');
                        out.push_str(&n.to_string());
                    } else {
                        out.push(c);
                    }
                }
                out
            }
        }
    }
}
