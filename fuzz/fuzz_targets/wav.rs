//! WAV decoding of prompt recordings (`ivr::wav::read_wav` of the main crate), which
//! also reads the recordings merchants upload through the extranet.
//!
//! This target compiles `src/ivr/wav.rs` on its own (the main crate is too heavy to
//! build instrumented; the file needs only hound and the proto crate).
//!
//! Beyond not panicking or exhausting memory: a decoded recording is never empty, and
//! decoding the same bytes twice gives the same samples.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../src/ivr/wav.rs"]
mod wav;

fuzz_target!(|data: &[u8]| {
    if let Ok(pcm) = wav::read_wav(data) {
        assert!(!pcm.is_empty());
        assert_eq!(wav::read_wav(data).ok(), Some(pcm));
    }
});
