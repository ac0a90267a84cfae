//! Writing a partitioned table's data files batch by batch, so a writer never holds more than one
//! batch plus the open Parquet files; [`commit_files_once`](super::commit_files_once) commits
//! them afterwards, exactly once per idempotency key.
//!
//! The files get UUID names (like every writer here); files of a commit that never happens are
//! deleted by the commit path or, after a crash, left as unreferenced garbage (harmless: Iceberg
//! readers only see committed files).

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef as ArrowSchemaRef;
use iceberg::arrow::RecordBatchPartitionSplitter;
use iceberg::spec::{DataFile, DataFileFormat, SchemaRef, SortOrderRef};
use iceberg::table::Table;
use iceberg::writer::base_writer::data_file_writer::DataFileWriterBuilder;
use iceberg::writer::file_writer::ParquetWriterBuilder;
use iceberg::writer::file_writer::location_generator::{
    DefaultFileNameGenerator, DefaultLocationGenerator,
};
use iceberg::writer::file_writer::rolling_writer::RollingFileWriterBuilder;
use iceberg::writer::partitioning::PartitioningWriter;
use iceberg::writer::partitioning::fanout_writer::FanoutWriter;
use uuid::Uuid;

use super::append::{prepare, writer_properties};
use super::schema::arrow_schema;
use crate::error::{Error, Result};

type Fanout = FanoutWriter<
    DataFileWriterBuilder<ParquetWriterBuilder, DefaultLocationGenerator, DefaultFileNameGenerator>,
>;

/// Data files of one future commit, written as batches arrive.
pub struct DataFileStream {
    table: Table,
    name: String,
    target: ArrowSchemaRef,
    sort_order: SortOrderRef,
    schema: SchemaRef,
    splitter: RecordBatchPartitionSplitter,
    fanout: Fanout,
    rows: u64,
}

impl std::fmt::Debug for DataFileStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataFileStream")
            .field("table", &self.name)
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

impl DataFileStream {
    /// Start writing data files of `table` (its current schema and partition spec, which must be
    /// partitioned — Silver is).
    pub fn open(table: &Table) -> Result<Self> {
        let name = table.identifier().to_string();
        let metadata = table.metadata();
        let schema = metadata.current_schema().clone();
        let target = arrow_schema(&name, &schema)?;
        let spec = metadata.default_partition_spec().clone();
        if spec.is_unpartitioned() {
            return Err(Error::InvalidInput {
                reason: format!("{name}: streamed writes need a partitioned table"),
            });
        }
        let werr = |what: &str| Error::iceberg(format!("{what} data files of {name}"));
        let locations = DefaultLocationGenerator::new(metadata)
            .map_err(Error::iceberg(format!("data location of {name}")))?;
        let file_names = DefaultFileNameGenerator::new(
            format!("{}", Uuid::new_v4()),
            None,
            DataFileFormat::Parquet,
        );
        let rolling = RollingFileWriterBuilder::new_with_default_file_size(
            ParquetWriterBuilder::new(writer_properties(&schema), schema.clone()),
            table.file_io().clone(),
            locations,
            file_names,
        );
        let splitter =
            RecordBatchPartitionSplitter::try_new_with_computed_values(schema.clone(), spec)
                .map_err(werr("partition"))?;
        Ok(DataFileStream {
            table: table.clone(),
            target,
            sort_order: metadata.default_sort_order().clone(),
            schema,
            splitter,
            fanout: FanoutWriter::new(DataFileWriterBuilder::new(rolling)),
            rows: 0,
            name,
        })
    }

    /// Write one batch (conformed to the table schema and sorted by its sort order).
    pub async fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let batch = prepare(
            &self.name,
            &self.target,
            batch,
            &self.sort_order,
            &self.schema,
        )?;
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let name = &self.name;
        let werr = |what: &str| Error::iceberg(format!("{what} data files of {name}"));
        for (partition, part) in self.splitter.split(&batch).map_err(werr("split"))? {
            self.fanout
                .write(partition, part)
                .await
                .map_err(werr("write"))?;
        }
        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Close the files: the table they belong to, the files and the row count.
    pub async fn close(self) -> Result<(Table, Vec<DataFile>, u64)> {
        let name = self.name;
        let files = self
            .fanout
            .close()
            .await
            .map_err(Error::iceberg(format!("close data files of {name}")))?;
        Ok((self.table, files, self.rows))
    }
}
