//! Typed access to the columns of Arrow batches, with errors instead of panics.
//!
//! Readers of Iceberg tables do not all hand back the exact Arrow types a writer used: strings
//! may arrive as `Utf8`, `LargeUtf8` or `Utf8View`, and timestamps carry whatever time zone
//! string the reader chose (`"UTC"`, `"+00:00"`). Arrow stores every timestamp with a time zone
//! as an offset from the Unix epoch in UTC, so the helpers here accept all of those spellings
//! and convert to one representation. Anything else is an [`Error::Arrow`] naming the table and
//! the column.

use std::sync::Arc;

use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::types::{
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType,
};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Date32Array, Float64Array, Int32Array, Int64Array,
    LargeStringArray, ListArray, PrimitiveArray, RecordBatch, StringArray, StringViewArray,
};
use arrow_schema::{DataType, Field, SchemaRef, TimeUnit};

use crate::error::{Error, Result};

/// Name of the element field of every `List<Utf8>` column written by this crate (the Iceberg /
/// Parquet convention).
pub(crate) const LIST_ELEMENT: &str = "element";

/// The `List<Utf8>` data type used for `source_cube_ids` and `reasons`.
pub(crate) fn string_list_type() -> DataType {
    DataType::List(Arc::new(Field::new(LIST_ELEMENT, DataType::Utf8, false)))
}

/// Build a `List<Utf8>` array (non-null lists of non-null strings).
pub(crate) fn string_list_array<'a, I, S>(lists: I) -> ListArray
where
    I: IntoIterator<Item = &'a [S]>,
    S: AsRef<str> + 'a,
{
    let mut builder = ListBuilder::new(StringBuilder::new()).with_field(Arc::new(Field::new(
        LIST_ELEMENT,
        DataType::Utf8,
        false,
    )));
    for list in lists {
        for item in list {
            builder.values().append_value(item.as_ref());
        }
        builder.append(true);
    }
    builder.finish()
}

/// Assemble a batch, mapping Arrow's error to [`Error::Arrow`].
pub(crate) fn make_batch(
    table: &str,
    schema: SchemaRef,
    columns: Vec<ArrayRef>,
) -> Result<RecordBatch> {
    RecordBatch::try_new(schema, columns).map_err(|e| Error::arrow_data(table, e.to_string()))
}

/// Look up a column by name.
pub(crate) fn column<'a>(batch: &'a RecordBatch, table: &str, name: &str) -> Result<&'a ArrayRef> {
    batch
        .column_by_name(name)
        .ok_or_else(|| Error::arrow_data(table, format!("missing column `{name}`")))
}

fn wrong_type(table: &str, name: &str, expected: &str, found: &DataType) -> Error {
    Error::arrow_data(
        table,
        format!("column `{name}` has type {found}, expected {expected}"),
    )
}

/// Downcast a named column to a concrete array type.
pub(crate) fn typed<'a, T: Array + 'static>(
    batch: &'a RecordBatch,
    table: &str,
    name: &str,
    expected: &str,
) -> Result<&'a T> {
    let array = column(batch, table, name)?;
    array
        .as_any()
        .downcast_ref::<T>()
        .ok_or_else(|| wrong_type(table, name, expected, array.data_type()))
}

/// A string column in any of Arrow's three string layouts.
pub(crate) enum StrColumn<'a> {
    Utf8(&'a StringArray),
    Large(&'a LargeStringArray),
    View(&'a StringViewArray),
}

impl<'a> StrColumn<'a> {
    /// The value at `i`, `None` when null.
    pub(crate) fn get(&self, i: usize) -> Option<&'a str> {
        match self {
            StrColumn::Utf8(a) => a.is_valid(i).then(|| a.value(i)),
            StrColumn::Large(a) => a.is_valid(i).then(|| a.value(i)),
            StrColumn::View(a) => a.is_valid(i).then(|| a.value(i)),
        }
    }
}

/// A string column by name.
pub(crate) fn str_column<'a>(
    batch: &'a RecordBatch,
    table: &str,
    name: &str,
) -> Result<StrColumn<'a>> {
    str_array(column(batch, table, name)?.as_ref(), table, name)
}

/// View any string array as a [`StrColumn`]; `name` is only used in the error.
fn str_array<'a>(array: &'a dyn Array, table: &str, name: &str) -> Result<StrColumn<'a>> {
    let any = array.as_any();
    if let Some(a) = any.downcast_ref::<StringArray>() {
        Ok(StrColumn::Utf8(a))
    } else if let Some(a) = any.downcast_ref::<LargeStringArray>() {
        Ok(StrColumn::Large(a))
    } else if let Some(a) = any.downcast_ref::<StringViewArray>() {
        Ok(StrColumn::View(a))
    } else {
        Err(wrong_type(table, name, "Utf8", array.data_type()))
    }
}

/// The value of a non-nullable string column, or an error naming the row.
pub(crate) fn required_str<'a>(
    col: &StrColumn<'a>,
    table: &str,
    name: &str,
    row: usize,
) -> Result<&'a str> {
    col.get(row)
        .ok_or_else(|| Error::arrow_data(table, format!("column `{name}` is null at row {row}")))
}

/// A timestamp column in any unit and time zone, read as microseconds since the epoch (UTC).
pub(crate) enum TimestampColumn<'a> {
    Second(&'a PrimitiveArray<TimestampSecondType>),
    Milli(&'a PrimitiveArray<TimestampMillisecondType>),
    Micro(&'a PrimitiveArray<TimestampMicrosecondType>),
    Nano(&'a PrimitiveArray<TimestampNanosecondType>),
}

impl TimestampColumn<'_> {
    /// Microseconds since 1970-01-01T00:00:00Z at `i`, `None` when null or out of range.
    pub(crate) fn micros(&self, i: usize) -> Option<i64> {
        match self {
            TimestampColumn::Second(a) => {
                a.is_valid(i).then(|| a.value(i).checked_mul(1_000_000))?
            }
            TimestampColumn::Milli(a) => a.is_valid(i).then(|| a.value(i).checked_mul(1_000))?,
            TimestampColumn::Micro(a) => a.is_valid(i).then(|| a.value(i)),
            TimestampColumn::Nano(a) => a.is_valid(i).then(|| a.value(i).div_euclid(1_000)),
        }
    }
}

/// A timestamp column by name (any unit; any or no time zone, read as UTC).
pub(crate) fn timestamp_column<'a>(
    batch: &'a RecordBatch,
    table: &str,
    name: &str,
) -> Result<TimestampColumn<'a>> {
    let array = column(batch, table, name)?;
    let any = array.as_any();
    let wrong = || wrong_type(table, name, "Timestamp", array.data_type());
    Ok(match array.data_type() {
        DataType::Timestamp(TimeUnit::Second, _) => {
            TimestampColumn::Second(any.downcast_ref().ok_or_else(wrong)?)
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            TimestampColumn::Milli(any.downcast_ref().ok_or_else(wrong)?)
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            TimestampColumn::Micro(any.downcast_ref().ok_or_else(wrong)?)
        }
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            TimestampColumn::Nano(any.downcast_ref().ok_or_else(wrong)?)
        }
        _ => return Err(wrong()),
    })
}

/// Shorthands for the primitive columns this crate reads back.
pub(crate) fn f64_column<'a>(b: &'a RecordBatch, t: &str, n: &str) -> Result<&'a Float64Array> {
    typed(b, t, n, "Float64")
}
pub(crate) fn i32_column<'a>(b: &'a RecordBatch, t: &str, n: &str) -> Result<&'a Int32Array> {
    typed(b, t, n, "Int32")
}
pub(crate) fn i64_column<'a>(b: &'a RecordBatch, t: &str, n: &str) -> Result<&'a Int64Array> {
    typed(b, t, n, "Int64")
}
pub(crate) fn bool_column<'a>(b: &'a RecordBatch, t: &str, n: &str) -> Result<&'a BooleanArray> {
    typed(b, t, n, "Boolean")
}
pub(crate) fn date32_column<'a>(b: &'a RecordBatch, t: &str, n: &str) -> Result<&'a Date32Array> {
    typed(b, t, n, "Date32")
}

/// `Some(value)` when the primitive array is valid at `i`.
pub(crate) fn opt<T: arrow_array::ArrowPrimitiveType>(
    a: &PrimitiveArray<T>,
    i: usize,
) -> Option<T::Native> {
    a.is_valid(i).then(|| a.value(i))
}

/// The value of a non-nullable primitive column, or an error naming the row.
pub(crate) fn required<T: arrow_array::ArrowPrimitiveType>(
    a: &PrimitiveArray<T>,
    table: &str,
    name: &str,
    row: usize,
) -> Result<T::Native> {
    opt(a, row)
        .ok_or_else(|| Error::arrow_data(table, format!("column `{name}` is null at row {row}")))
}

/// A `List<Utf8>` column (elements in any string layout), read row by row.
pub(crate) struct StringListColumn<'a> {
    list: &'a ListArray,
    values: StrColumn<'a>,
    table: &'a str,
    name: &'a str,
}

impl StringListColumn<'_> {
    /// The strings at `row`; a null list reads as empty, a null element is an error.
    pub(crate) fn at(&self, row: usize) -> Result<Vec<String>> {
        let offsets = self.list.value_offsets();
        let (Some(&start), Some(&end)) = (offsets.get(row), offsets.get(row + 1)) else {
            return Err(Error::arrow_data(
                self.table,
                format!("column `{}` has no row {row}", self.name),
            ));
        };
        if self.list.is_null(row) {
            return Ok(Vec::new());
        }
        (start..end)
            .map(|i| {
                let i = usize::try_from(i).unwrap_or(usize::MAX);
                self.values.get(i).map(str::to_owned).ok_or_else(|| {
                    Error::arrow_data(
                        self.table,
                        format!("column `{}` has a null element at row {row}", self.name),
                    )
                })
            })
            .collect()
    }
}

/// A `List<Utf8>` column by name.
pub(crate) fn string_list_column<'a>(
    batch: &'a RecordBatch,
    table: &'a str,
    name: &'a str,
) -> Result<StringListColumn<'a>> {
    let list: &ListArray = typed(batch, table, name, "List<Utf8>")?;
    let values = str_array(list.values().as_ref(), table, name)
        .map_err(|_| wrong_type(table, name, "List<Utf8>", list.data_type()))?;
    Ok(StringListColumn {
        list,
        values,
        table,
        name,
    })
}

/// 1970-01-01, day 0 of Arrow's `Date32`.
fn epoch() -> chrono::NaiveDate {
    chrono::NaiveDate::default()
}

/// The UTC calendar day of an instant given in microseconds since the epoch.
pub(crate) fn utc_date_from_micros(micros: i64) -> Option<chrono::NaiveDate> {
    chrono::DateTime::from_timestamp_micros(micros).map(|t| t.date_naive())
}

/// Days since 1970-01-01 (Arrow `Date32`), saturating far outside any real acquisition.
pub(crate) fn date_to_days(date: chrono::NaiveDate) -> i32 {
    let days = date.signed_duration_since(epoch()).num_days();
    i32::try_from(days).unwrap_or(if days < 0 { i32::MIN } else { i32::MAX })
}

/// The date `days` after 1970-01-01, `None` outside chrono's range.
pub(crate) fn days_to_date(days: i32) -> Option<chrono::NaiveDate> {
    epoch().checked_add_signed(chrono::TimeDelta::try_days(i64::from(days))?)
}

/// A `Date32` value back to a date, or an error naming the row.
pub(crate) fn required_date(
    a: &Date32Array,
    table: &str,
    name: &str,
    row: usize,
) -> Result<chrono::NaiveDate> {
    let days = required(a, table, name, row)?;
    days_to_date(days).ok_or_else(|| {
        Error::arrow_data(
            table,
            format!("column `{name}` at row {row}: day {days} is out of range"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_convert_both_ways() {
        assert_eq!(chrono::NaiveDate::default().to_string(), "1970-01-01");
        let d = chrono::NaiveDate::from_ymd_opt(2025, 6, 3).unwrap();
        assert_eq!(date_to_days(d), 20242);
        assert_eq!(days_to_date(20242), Some(d));
        // 2025-06-03T23:59:59.999999Z is still the 3rd; one microsecond later is the 4th.
        let micros = 20243 * 86_400_000_000i64 - 1;
        assert_eq!(utc_date_from_micros(micros), Some(d));
        assert_eq!(utc_date_from_micros(micros + 1), d.succ_opt());
        assert_eq!(
            days_to_date(-1),
            chrono::NaiveDate::from_ymd_opt(1969, 12, 31)
        );
    }

    #[test]
    fn string_lists_round_trip() {
        let lists: Vec<Vec<String>> = vec![vec!["a".into(), "b".into()], vec![]];
        let array: ArrayRef = Arc::new(string_list_array(lists.iter().map(Vec::as_slice)));
        let batch = RecordBatch::try_from_iter([("ids", array)]).unwrap();
        let ids = string_list_column(&batch, "t", "ids").unwrap();
        assert_eq!(ids.at(0).unwrap(), ["a", "b"]);
        assert!(ids.at(1).unwrap().is_empty());
        let err = string_list_column(&batch, "t", "nope").err().unwrap();
        assert_eq!(err.to_string(), "table `t`: Arrow: missing column `nope`");
    }
}
