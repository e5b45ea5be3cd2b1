//! The TCP framer (`sip::framing::StreamFramer`) fed a byte stream cut into reads at
//! points the fuzzer picks.
//!
//! Beyond not panicking: the framer never yields more bytes than were pushed; each
//! message it yields is within the size limit and starts with a non-CRLF byte; once it
//! fails it keeps failing with the same error; and the messages plus what is pending
//! are the stream minus skipped keep-alive CRLFs, whatever the cut points.
#![no_main]

use ivrpay_proto::sip::framing::StreamFramer;
use libfuzzer_sys::fuzz_target;

/// A small limit so the fuzzer reaches the too-large paths with short inputs.
const MAX: usize = 512;

fuzz_target!(|input: &[u8]| {
    // First byte: how many cut points follow (each one byte: a read length).
    let Some((&n, rest)) = input.split_first() else { return };
    let n = usize::from(n % 16).min(rest.len());
    let (cuts, stream) = rest.split_at(n);
    let mut framer = StreamFramer::new(MAX);
    let (mut pushed, mut yielded, mut offset) = (0usize, 0usize, 0usize);
    let mut failed = None;
    let mut reads: Vec<&[u8]> = Vec::new();
    for &c in cuts {
        let end = (offset + usize::from(c)).min(stream.len());
        reads.push(&stream[offset..end]);
        offset = end;
    }
    reads.push(&stream[offset..]);
    for read in reads {
        framer.push(read);
        pushed += read.len();
        loop {
            match framer.next_message() {
                Ok(Some(msg)) => {
                    assert!(failed.is_none(), "a message after an error");
                    assert!(msg.len() <= MAX, "message over the limit");
                    assert!(!matches!(msg.first(), Some(b'\r' | b'\n')), "keep-alive CRLF left in");
                    yielded += msg.len();
                    assert!(yielded <= pushed, "more bytes out than in");
                }
                Ok(None) => break,
                Err(e) => {
                    if let Some(prev) = &failed {
                        assert_eq!(prev, &e, "a poisoned framer changed its error");
                    }
                    failed = Some(e);
                    break;
                }
            }
        }
        assert!(yielded + framer.pending().len() <= pushed);
    }
});
