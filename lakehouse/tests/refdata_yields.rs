//! Yield history: CSV parsing, the `ref.yield_history` batch, and every rejection naming
//! file, line and column.

use std::io::Write as _;

use hsi_lakehouse::Error;
use hsi_lakehouse::refdata::yields::{
    self, YieldRow, arrow_schema, from_record_batch, to_record_batch,
};
use hsi_lakehouse::refdata::{parse_yields, read_yields};

const FILE: &str = "yields.csv";

fn y(farm: &str, field: &str, line: &str, season: i32, t: f64) -> YieldRow {
    YieldRow {
        farm_id: farm.into(),
        field_id: field.into(),
        line_id: line.into(),
        season,
        yield_t_ha: t,
    }
}

#[test]
fn parses_reordered_quoted_crlf_and_blank_lines() {
    let text = "season,line_id,farm_id,field_id,yield_t_ha,notes\r\n\
                2024,L1,F1,A,5.25,\r\n\
                \r\n\
                2023, \"L,2\" ,F1,\"B\",4,\"said \"\"ok\"\"\"\r\n";
    let rows = parse_yields(text, FILE).unwrap();
    assert_eq!(
        rows,
        [
            y("F1", "A", "L1", 2024, 5.25),
            y("F1", "B", "L,2", 2023, 4.0)
        ]
    );
}

#[test]
fn header_only_is_an_empty_history() {
    assert!(
        parse_yields("farm_id,field_id,line_id,season,yield_t_ha\n", FILE)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn arrow_batch_and_round_trip() {
    let rows = vec![
        y("F1", "A", "L1", 2024, 5.25),
        y("F2", "C", "L9", 2019, 0.0),
    ];
    let batch = to_record_batch(&rows).unwrap();
    assert_eq!(batch.schema(), arrow_schema());
    let names: Vec<_> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, yields::COLUMNS);
    assert_eq!(from_record_batch(&batch).unwrap(), rows);
    assert_eq!(yields::TABLE, "ref.yield_history");
}

#[test]
fn reads_files() {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(b"farm_id,field_id,line_id,season,yield_t_ha\nF1,A,L1,2022,6.5\n")
        .unwrap();
    assert_eq!(
        read_yields(f.path()).unwrap(),
        [y("F1", "A", "L1", 2022, 6.5)]
    );
    let mut bad = tempfile::NamedTempFile::new().unwrap();
    bad.write_all(b"farm_id,field_id,line_id,season\n").unwrap();
    let msg = read_yields(bad.path()).unwrap_err().to_string();
    assert!(
        msg.starts_with(&format!(
            "{}: line 1, column yield_t_ha",
            bad.path().display()
        )),
        "{msg}"
    );
}

/// Parse, expect an `InvalidInput`, and return its message without the file prefix.
fn reject(text: &str) -> String {
    let err = parse_yields(text, FILE).unwrap_err();
    assert!(matches!(err, Error::InvalidFile { .. }), "{err:?}");
    assert!(!err.retryable());
    let msg = err.to_string();
    msg.strip_prefix(&format!("{FILE}: "))
        .unwrap_or(&msg)
        .to_owned()
}

const HEADER: &str = "farm_id,field_id,line_id,season,yield_t_ha\n";

#[test]
fn rejects_empty_files_and_bad_headers() {
    assert_eq!(
        reject(""),
        "line 1: empty file: a header line naming farm_id,field_id,line_id,season,yield_t_ha is required"
    );
    assert_eq!(reject("\n  \n"), reject(""));
    assert_eq!(
        reject("farm_id,field_id,line,season,yield_t_ha\nF1,A,L1,2024,5\n"),
        "line 1, column line_id: missing column `line_id` in header \"farm_id,field_id,line,season,yield_t_ha\""
    );
    assert_eq!(
        reject("farm_id,field_id,line_id,season,yield_t_ha,season\n"),
        "line 1, column season: column `season` appears more than once in the header"
    );
}

#[test]
fn rejects_bad_values_with_line_and_column() {
    assert_eq!(
        reject(&format!("{HEADER}F1,A,L1,2024,5.0\nF1,A,L2,2024,five\n")),
        "line 3, column yield_t_ha: `five` is not a finite number ≥ 0"
    );
    assert_eq!(
        reject(&format!("{HEADER}F1,A,L1,2024,-1\n")),
        "line 2, column yield_t_ha: `-1` is not a finite number ≥ 0"
    );
    assert_eq!(
        reject(&format!("{HEADER}F1,A,L1,2024,NaN\n")),
        "line 2, column yield_t_ha: `NaN` is not a finite number ≥ 0"
    );
    assert_eq!(
        reject(&format!("{HEADER}F1,A,L1,24.5,5\n")),
        "line 2, column season: `24.5` is not a year (1000-9999)"
    );
    assert_eq!(
        reject(&format!("{HEADER}F1,A,L1,99,5\n")),
        "line 2, column season: `99` is not a year (1000-9999)"
    );
    assert_eq!(
        reject(&format!("{HEADER}F1,,L1,2024,5\n")),
        "line 2, column field_id: value must not be empty"
    );
}

#[test]
fn rejects_malformed_lines() {
    assert_eq!(
        reject(&format!("{HEADER}F1,A,L1,2024\n")),
        "line 2: expected 5 fields like the header, found 4"
    );
    assert_eq!(
        reject(&format!("{HEADER}\nF1,\"A,L1,2024,5\n")),
        "line 3: unterminated quote in field 2"
    );
}
