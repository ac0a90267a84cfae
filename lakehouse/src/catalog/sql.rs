//! The SQL catalog as a [`LakeCatalog`]: iceberg-rust's `SqlCatalog` for everything the
//! `Catalog` trait does, and [`MetadataPointers`] for the fenced pointer swap of
//! [`crate::table::commit`]. Both work on the same `iceberg_tables` row, so commits made
//! through either exclude each other (see [`super::pointers`]).

use std::collections::HashMap;

use async_trait::async_trait;
use iceberg::table::Table;
use iceberg::{Catalog, Namespace, NamespaceIdent, Result, TableCommit, TableCreation, TableIdent};
use iceberg_catalog_sql::SqlCatalog;

use super::MetadataPointers;
use crate::table::commit::{LakeCatalog, MetadataStore};

/// The SQL catalog (SQLite or PostgreSQL) with pointer swaps.
#[derive(Debug)]
pub struct SqlLakeCatalog {
    inner: SqlCatalog,
    pointers: MetadataPointers,
}

impl SqlLakeCatalog {
    /// Wrap an opened catalog and a pointer connection to the same database.
    pub fn new(inner: SqlCatalog, pointers: MetadataPointers) -> Self {
        SqlLakeCatalog { inner, pointers }
    }

    /// The pointer connection (rollback, tests).
    pub fn pointers(&self) -> &MetadataPointers {
        &self.pointers
    }
}

#[async_trait]
impl MetadataStore for SqlLakeCatalog {
    async fn current_location(&self, ident: &TableIdent) -> crate::Result<String> {
        self.pointers.current(ident).await
    }

    async fn swap_location(
        &self,
        ident: &TableIdent,
        expected: &str,
        new: &str,
    ) -> crate::Result<()> {
        self.pointers.compare_and_swap(ident, expected, new).await
    }
}

const _: fn(&SqlLakeCatalog) -> &dyn LakeCatalog = |c| c;

#[async_trait]
impl Catalog for SqlLakeCatalog {
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
        self.inner.load_table(table).await
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
