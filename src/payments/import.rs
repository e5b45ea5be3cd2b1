//! CSV batch import of invoices: every row is checked, every bad row is reported with
//! its line and reason, and nothing is stored from a file with bad rows unless the
//! merchant asks for the valid rows only. Amounts are decimal (`123.45`) as people write
//! them in spreadsheets; a row whose reference already exists with the same content is
//! skipped (imports are idempotent per merchant reference).

use super::invoice::{FieldError, InvoiceInput, NewInvoice};
use super::money::{parse_decimal, Currency};
use chrono::NaiveDate;
use serde::Serialize;

/// Columns, in the header row (case-insensitive, any order; extra columns refused).
pub const COLUMNS: [&str; 8] =
    ["reference", "amount", "currency", "due_date", "expiry_date", "customer_name", "customer_contact", "description"];

/// Rows one file may carry: a bigger batch is split by the merchant, so one upload
/// never holds the server for long.
pub const MAX_ROWS: usize = 10_000;

/// A rejected row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RowError {
    /// 1-based line in the file (the header is line 1).
    pub line: u64,
    /// The column at fault.
    pub field: String,
    /// Why.
    pub reason: String,
}

/// The checked content of a file.
#[derive(Debug, Default)]
pub struct Parsed {
    /// Valid rows with their line numbers.
    pub rows: Vec<(u64, NewInvoice)>,
    /// Every problem found.
    pub errors: Vec<RowError>,
}

/// Reads and checks a whole file. A file-level problem (no header, unknown column) is
/// reported as line 1.
pub fn parse(text: &str, today: NaiveDate) -> Parsed {
    let mut out = Parsed::default();
    let mut rdr = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(text.as_bytes());
    let header: Vec<String> = match rdr.headers() {
        Ok(h) => h.iter().map(|c| c.to_ascii_lowercase()).collect(),
        Err(e) => {
            out.errors.push(RowError { line: 1, field: "header".into(), reason: e.to_string() });
            return out;
        }
    };
    for col in &header {
        if !COLUMNS.contains(&col.as_str()) {
            out.errors.push(RowError {
                line: 1,
                field: col.clone(),
                reason: format!("unknown column; use {}", COLUMNS.join(", ")),
            });
        }
    }
    for required in ["reference", "amount", "due_date", "customer_name"] {
        if !header.iter().any(|h| h == required) {
            out.errors.push(RowError { line: 1, field: required.into(), reason: "required column missing".into() });
        }
    }
    if !out.errors.is_empty() {
        return out;
    }
    let mut seen = std::collections::HashMap::new();
    let lines = LineIndex::new(text);
    let mut rows = 0usize;
    for record in rdr.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| lines.line_of(p.byte())).unwrap_or(0);
                out.errors.push(RowError { line, field: "row".into(), reason: e.to_string() });
                continue;
            }
        };
        let line = record.position().map(|p| lines.line_of(p.byte())).unwrap_or(0);
        if record.iter().all(str::is_empty) {
            continue;
        }
        rows += 1;
        if rows > MAX_ROWS {
            let reason = format!("more than {MAX_ROWS} rows in one file; split it");
            out.errors.push(RowError { line, field: "file".into(), reason });
            break;
        }
        if record.len() != header.len() {
            out.errors.push(RowError {
                line,
                field: "row".into(),
                reason: format!("{} fields, the header has {}", record.len(), header.len()),
            });
            continue;
        }
        let get = |name: &str| {
            header
                .iter()
                .position(|h| h == name)
                .and_then(|i| record.get(i))
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let currency = get("currency").unwrap_or_else(|| "EUR".into());
        let mut errs: Vec<FieldError> = Vec::new();
        let amount = match (get("amount"), Currency::parse(&currency)) {
            (Some(a), Some(c)) => match parse_decimal(&a, c) {
                Some(v) => Some(v),
                None => {
                    errs.push(FieldError::new(
                        "amount",
                        format!("'{a}' is not an amount in {} (e.g. 123.45)", c.code()),
                    ));
                    None
                }
            },
            _ => None,
        };
        let input = InvoiceInput {
            reference: get("reference"),
            amount: amount.or(if errs.is_empty() { None } else { Some(1) }),
            currency: Some(currency),
            due_date: get("due_date"),
            expiry_date: get("expiry_date"),
            customer_name: get("customer_name"),
            customer_contact: get("customer_contact"),
            description: get("description"),
        };
        match input.validate(today) {
            Ok(inv) if errs.is_empty() => {
                if let Some(first) = seen.insert(inv.reference.clone(), line) {
                    out.errors.push(RowError {
                        line,
                        field: "reference".into(),
                        reason: format!("already used on line {first} of this file"),
                    });
                } else {
                    out.rows.push((line, inv));
                }
            }
            Ok(_) => {}
            Err(more) => errs.extend(more),
        }
        out.errors.extend(errs.into_iter().map(|e| RowError { line, field: e.field.into(), reason: e.message }));
    }
    out
}

/// Where each line of a file ends, found once, so a row's line is a binary search
/// (counting from the start for every row made a big file quadratic). A line ends as
/// the csv reader ends a record: at CR LF, LF, or a CR alone (counted once for CR LF),
/// so two records never share a line number (found by fuzzing).
struct LineIndex<'a> {
    bytes: &'a [u8],
    newlines: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    fn new(text: &'a str) -> Self {
        let bytes = text.as_bytes();
        let ends = |i: &usize| bytes[*i] == b'\n' || (bytes[*i] == b'\r' && bytes.get(*i + 1) != Some(&b'\n'));
        LineIndex { bytes, newlines: (0..bytes.len()).filter(ends).collect() }
    }

    /// The 1-based line of a byte offset, counting blank lines too (the csv crate's own
    /// counter skips them, which would point a merchant at the wrong line).
    fn line_of(&self, byte: u64) -> u64 {
        let mut end = (byte as usize).min(self.bytes.len());
        // A record's position is where reading began, before any blank lines it skipped.
        while end < self.bytes.len() && (self.bytes[end] == b'\n' || self.bytes[end] == b'\r') {
            end += 1;
        }
        self.newlines.partition_point(|&n| n < end) as u64 + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
    }

    #[test]
    fn good_rows_bad_rows_and_their_lines() {
        let file = "reference,amount,due_date,customer_name,description\n\
                    F-1,123.45,2026-12-31,Jeanne Martin,\"Plomberie, janvier\"\n\
                    F-2,12.3.4,2026-12-31,Paul,\n\
                    F-3,10,31/12/2026,,\n\
                    F-1,5,2026-12-31,Again,\n\
                    \n\
                    F-4,\"1 000\",2026-12-31,Luc,\n";
        let p = parse(file, today());
        assert_eq!(p.rows.len(), 1);
        assert_eq!(p.rows[0].1.amount, 12345);
        assert_eq!(p.rows[0].1.description.as_deref(), Some("Plomberie, janvier"));
        let errs: Vec<(u64, &str)> = p.errors.iter().map(|e| (e.line, e.field.as_str())).collect();
        assert_eq!(errs, [(3, "amount"), (4, "due_date"), (4, "customer_name"), (5, "reference"), (7, "amount")]);
    }

    #[test]
    fn header_problems_are_line_one() {
        let p = parse("ref,amount\nA,1\n", today());
        assert!(p.rows.is_empty());
        assert_eq!(p.errors[0], RowError { line: 1, field: "ref".into(), reason: p.errors[0].reason.clone() });
        assert!(p.errors.iter().any(|e| e.field == "reference" && e.reason.contains("missing")));
        let p = parse("reference,amount,due_date,customer_name\nA,1,2026-12-31\n", today());
        assert_eq!((p.errors[0].line, p.errors[0].field.as_str()), (2, "row"));
    }

    #[test]
    fn a_file_over_the_row_cap_is_refused_naming_the_first_row_too_many() {
        let mut file = String::from("reference,amount,due_date,customer_name\n");
        for i in 0..=MAX_ROWS {
            file.push_str(&format!("F-{i},1,2026-12-31,C\n"));
        }
        let p = parse(&file, today());
        let last = p.errors.last().expect("refused");
        assert_eq!((last.line, last.field.as_str()), (MAX_ROWS as u64 + 2, "file"));
    }

    #[test]
    fn a_lone_carriage_return_ends_a_line_as_it_ends_a_record() {
        // From the fuzzer: a CR inside an unquoted field split one LF line in two
        // records, one accepted and one refused under the same line number.
        let file = "reference,amount,due_date,customer_name\r\nF-1,1,2026-12-31,Jna\rveir\nF-2,1,2026-12-31,Paul\n";
        let p = parse(file, today());
        for (line, _) in &p.rows {
            assert!(!p.errors.iter().any(|e| e.line == *line), "line {line} both accepted and refused: {p:?}");
        }
        assert_eq!(p.rows.iter().map(|(l, _)| *l).collect::<Vec<_>>(), [2, 4]);
    }
}
