//! Dialplan TOML (`ivr::dialplan::parse`): operators edit these files and a reload
//! must refuse a bad one naming its line, never take the server down.
//!
//! Beyond not panicking: every error (each one of a `Several`) names a line within the
//! file, and a file accepted when every prompt exists is also judged, without
//! panicking, when none does.
#![no_main]

use ivrpay_proto::ivr::dialplan::{parse, DialplanError};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fn check_lines(e: &DialplanError, lines: usize) {
    match e {
        DialplanError::Invalid { line, .. } => assert!((1..=lines).contains(line), "line {line} of {lines}: {e}"),
        DialplanError::Several(all) => all.iter().for_each(|e| check_lines(e, lines)),
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let path = Path::new("fuzz.toml");
    // A line past the last newline still counts (an error at the very end of the file).
    let lines = text.split('\n').count();
    match parse(path, text, &|_| true) {
        Ok(_) => {
            if let Err(e) = parse(path, text, &|_| false) {
                check_lines(&e, lines);
            }
        }
        Err(e) => check_lines(&e, lines),
    }
});
