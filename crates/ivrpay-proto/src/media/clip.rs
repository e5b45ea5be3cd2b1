//! A clip: audio encoded once per G.711 law, shared by every call that plays it. It is
//! what the pacer sends; the IVR's prompts (names, languages, files) wrap one, so media
//! needs no knowledge of the IVR.

use super::codec::Codec;
use super::g711;

/// Encoded audio, ready to cut into 20 ms frames for any call.
#[derive(Debug)]
pub struct Clip {
    pcmu: Vec<u8>,
    pcma: Vec<u8>,
}

impl Clip {
    /// Encodes 8 kHz mono samples in both G.711 laws, once.
    pub fn from_pcm(pcm: &[i16]) -> Clip {
        let mut pcmu = vec![0u8; pcm.len()];
        let mut pcma = vec![0u8; pcm.len()];
        g711::encode_frame(Codec::Pcmu, pcm, &mut pcmu);
        g711::encode_frame(Codec::Pcma, pcm, &mut pcma);
        Clip { pcmu, pcma }
    }

    /// The encoded payload bytes for a codec (one byte per sample).
    pub fn encoded(&self, codec: Codec) -> &[u8] {
        match codec {
            Codec::Pcmu => &self.pcmu,
            Codec::Pcma => &self.pcma,
        }
    }
}
