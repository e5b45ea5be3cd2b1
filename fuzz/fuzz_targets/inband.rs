//! The in-band DTMF detector (`media::inband::InbandDetector`) fed arbitrary 8 kHz
//! samples (little-endian i16 from the input bytes).
//!
//! Beyond not panicking: every key reported is a DTMF key, and the keys do not depend
//! on how the audio is cut into pushes (as the detector documents): the whole input at
//! once and in fuzzer-chosen chunks give the same keys.
#![no_main]

use ivrpay_proto::media::inband::InbandDetector;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, bytes)) = data.split_first() else { return };
    let samples: Vec<i16> = bytes.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect();
    let mut whole = Vec::new();
    InbandDetector::new().push(&samples, |d| whole.push(d));
    assert!(whole.iter().all(|d| "0123456789*#ABCD".contains(*d)), "{whole:?}");
    let mut chunked = Vec::new();
    let mut det = InbandDetector::new();
    for part in samples.chunks(usize::from(chunk).max(1)) {
        det.push(part, |d| chunked.push(d));
    }
    assert_eq!(whole, chunked);
});
