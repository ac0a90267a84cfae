//! A catalog wrapper that makes iceberg-rust's commit fail instead of silently rebasing.
//!
//! `Transaction::commit` reloads the table and, if it changed, re-applies the append on top of
//! the new state. That is right for blind appends and wrong for idempotent ones: the
//! idempotency check ("is this key already in the table?") was made against the old state, so
//! a concurrent writer committing the same key in between would go unnoticed and the rows
//! would land twice.
//!
//! [`FencedCatalog`] delegates everything to the real catalog but, when the transaction
//! reloads the table, fails with a non-retryable commit conflict if `main` no longer points at
//! the snapshot the caller checked. Together with the requirement the append itself carries
//! (`assert-ref-snapshot-id main = <that snapshot>`) and the SQL catalog's compare-and-swap on
//! the metadata location, an append through this wrapper lands only on the exact table state
//! that was checked. The caller sees [`FencedCatalog::tripped`], re-checks its key on the new
//! state and tries again.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use iceberg::table::Table;
use iceberg::{
    Catalog, Error as IcebergError, ErrorKind, Namespace, NamespaceIdent, Result, TableCommit,
    TableCreation, TableIdent,
};

/// Delegating catalog that refuses to commit unless `main` is still at `expected_main`.
#[derive(Debug)]
pub(crate) struct FencedCatalog<'a> {
    inner: &'a dyn Catalog,
    ident: TableIdent,
    expected_main: Option<i64>,
    tripped: AtomicBool,
}

impl<'a> FencedCatalog<'a> {
    pub(crate) fn new(
        inner: &'a dyn Catalog,
        ident: TableIdent,
        expected_main: Option<i64>,
    ) -> Self {
        FencedCatalog {
            inner,
            ident,
            expected_main,
            tripped: AtomicBool::new(false),
        }
    }

    /// Whether the fence stopped a commit because `main` moved.
    pub(crate) fn tripped(&self) -> bool {
        self.tripped.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Catalog for FencedCatalog<'_> {
    async fn list_namespaces(
        &self,
        parent: Option<&NamespaceIdent>,
    ) -> Result<Vec<NamespaceIdent>> {
        self.inner.list_namespaces(parent).await
    }

    async fn create_namespace(
        &self,
        namespace: &NamespaceIdent,
        properties: HashMap<String, String>,
    ) -> Result<Namespace> {
        self.inner.create_namespace(namespace, properties).await
    }

    async fn get_namespace(&self, namespace: &NamespaceIdent) -> Result<Namespace> {
        self.inner.get_namespace(namespace).await
    }

    async fn namespace_exists(&self, namespace: &NamespaceIdent) -> Result<bool> {
        self.inner.namespace_exists(namespace).await
    }

    async fn update_namespace(
        &self,
        namespace: &NamespaceIdent,
        properties: HashMap<String, String>,
    ) -> Result<()> {
        self.inner.update_namespace(namespace, properties).await
    }

    async fn drop_namespace(&self, namespace: &NamespaceIdent) -> Result<()> {
        self.inner.drop_namespace(namespace).await
    }

    async fn list_tables(&self, namespace: &NamespaceIdent) -> Result<Vec<TableIdent>> {
        self.inner.list_tables(namespace).await
    }

    async fn create_table(
        &self,
        namespace: &NamespaceIdent,
        creation: TableCreation,
    ) -> Result<Table> {
        self.inner.create_table(namespace, creation).await
    }

    async fn load_table(&self, table: &TableIdent) -> Result<Table> {
        let loaded = self.inner.load_table(table).await?;
        if *table == self.ident && loaded.metadata().current_snapshot_id() != self.expected_main {
            self.tripped.store(true, Ordering::SeqCst);
            return Err(IcebergError::new(
                ErrorKind::CatalogCommitConflicts,
                format!(
                    "{table}: main moved from {:?} to {:?} since the idempotency check",
                    self.expected_main,
                    loaded.metadata().current_snapshot_id()
                ),
            )
            .with_retryable(false));
        }
        Ok(loaded)
    }

    async fn drop_table(&self, table: &TableIdent) -> Result<()> {
        self.inner.drop_table(table).await
    }

    async fn purge_table(&self, table: &TableIdent) -> Result<()> {
        self.inner.purge_table(table).await
    }

    async fn table_exists(&self, table: &TableIdent) -> Result<bool> {
        self.inner.table_exists(table).await
    }

    async fn rename_table(&self, src: &TableIdent, dest: &TableIdent) -> Result<()> {
        self.inner.rename_table(src, dest).await
    }

    async fn register_table(&self, table: &TableIdent, metadata_location: String) -> Result<Table> {
        self.inner.register_table(table, metadata_location).await
    }

    async fn update_table(&self, commit: TableCommit) -> Result<Table> {
        self.inner.update_table(commit).await
    }
}
