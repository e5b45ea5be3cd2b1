//! The media code against references outside it: G.711 against sox's codec (the
//! classic Sun reference implementation, an independent derivation of the ITU tables)
//! for every code and every sample value, and the in-band DTMF detector against real
//! speech: every prompt shipped in `prompts/`, as recorded and after a G.711 round
//! trip, must make no digit.

use ivrpay::media::g711::{alaw_decode, alaw_encode, ulaw_decode, ulaw_encode};
use ivrpay::media::inband::InbandDetector;
use std::path::{Path, PathBuf};
use std::process::Command;

fn sox_available() -> bool {
    Command::new("sox").arg("--version").output().is_ok_and(|o| o.status.success())
}

/// Runs sox on raw data: `from` and `to` are sox's `-e` encodings (`mu-law`, `a-law`,
/// `signed-integer`) with their bit widths.
fn sox(input: &[u8], from: (&str, &str), to: (&str, &str)) -> Vec<u8> {
    let dir = std::env::temp_dir().join(format!("ivrpay-g711-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (src, dst) =
        (dir.join(format!("in-{}-{}.raw", from.0, to.0)), dir.join(format!("out-{}-{}.raw", from.0, to.0)));
    std::fs::write(&src, input).unwrap();
    let raw = |(enc, bits): (&str, &str)| {
        ["-t", "raw", "-r", "8000", "-c", "1", "-e", enc, "-b", bits, "-L"].map(String::from).to_vec()
    };
    // -D: no dither (sox adds it by default when the output has fewer bits).
    let out = Command::new("sox")
        .arg("-D")
        .args(raw(from))
        .arg(&src)
        .args(raw(to))
        .arg(&dst)
        .output()
        .expect("sox runs (installed by .ci/run)");
    assert!(out.status.success(), "sox: {}", String::from_utf8_lossy(&out.stderr));
    let data = std::fs::read(&dst).unwrap();
    let _ = std::fs::remove_file(&src);
    let _ = std::fs::remove_file(&dst);
    data
}

fn samples(bytes: &[u8]) -> Vec<i16> {
    bytes.chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]])).collect()
}

#[test]
fn g711_decodes_every_code_as_sox_does() {
    assert!(sox_available(), "sox is needed (bash .ci/run installs it)");
    let codes: Vec<u8> = (0..=255).collect();
    for (enc, decode) in [("mu-law", ulaw_decode as fn(u8) -> i16), ("a-law", alaw_decode)] {
        let reference = samples(&sox(&codes, (enc, "8"), ("signed-integer", "16")));
        assert_eq!(reference.len(), 256);
        for (&code, &want) in codes.iter().zip(&reference) {
            assert_eq!(decode(code), want, "{enc} code {code:#04x}");
        }
    }
}

/// Encoding: the same code as sox except near a decision level. ivrpay truncates the
/// 16-bit sample to the standard's 14 (µ-law) or 13 (A-law) bits after taking its sign,
/// as the ITU's reference encoder (G.191) does, so -x and x differ only in the sign bit;
/// sox rounds to nearest first. Where they disagree, sox's code is the one ivrpay
/// gives a few LSB away, at a decision level.
#[test]
fn g711_encodes_every_sample_as_sox_does() {
    assert!(sox_available(), "sox is needed (bash .ci/run installs it)");
    let all: Vec<i16> = (i16::MIN..=i16::MAX).collect();
    let bytes: Vec<u8> = all.iter().flat_map(|s| s.to_le_bytes()).collect();
    // How each law mirrors a negative sample: µ-law by its magnitude (-x), A-law by
    // ones' complement (!x = -x-1: it has no zero level, ±8 around it).
    type Law = (&'static str, fn(i16) -> u8, fn(i16) -> i16);
    let laws: [Law; 2] = [("mu-law", ulaw_encode, |s| -s), ("a-law", alaw_encode, |s| !s)];
    for (enc, encode, mirror) in laws {
        let reference = sox(&bytes, ("signed-integer", "16"), (enc, "8"));
        let mut at_boundary = 0;
        for (&s, &want) in all.iter().zip(&reference) {
            let ours = encode(s);
            if s < 0 && s > i16::MIN {
                assert_eq!(ours ^ 0x80, encode(mirror(s)), "{enc} is sign-symmetric at {s}");
            }
            if ours != want {
                // Sox's code is one ivrpay gives a few LSB away: the two put this decision
                // level within 8 LSB of each other, and nowhere else do they differ.
                at_boundary += 1;
                let near = |d: i32| encode((i32::from(s) + d).clamp(-32768, 32767) as i16);
                assert!((-8..=8).any(|d| near(d) == want), "{enc} sample {s}: ours {ours:#04x}, sox {want:#04x}");
            }
        }
        // Each of the 254 decision levels accounts for a few samples at most.
        assert!(at_boundary <= 254 * 8, "{enc}: {at_boundary} samples differ");
    }
}

fn shipped_prompts() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts");
    let mut out = Vec::new();
    for lang in std::fs::read_dir(&root).unwrap() {
        let lang = lang.unwrap().path();
        if !lang.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&lang).unwrap() {
            let f = f.unwrap().path();
            if f.extension().is_some_and(|e| e == "wav") {
                out.push(f);
            }
        }
    }
    out.sort();
    out
}

fn digits_in(audio: &[i16]) -> String {
    let mut d = InbandDetector::new();
    let mut found = String::new();
    // 20 ms packets, as the call's inbound media delivers them.
    for chunk in audio.chunks(160) {
        d.push(chunk, |c| found.push(c));
    }
    found
}

#[test]
fn speech_in_every_shipped_prompt_makes_no_digit() {
    let prompts = shipped_prompts();
    assert!(prompts.len() > 400, "both languages' prompts are there: {}", prompts.len());
    let mut seconds = 0.0;
    for p in &prompts {
        let mut r = hound::WavReader::open(p).unwrap();
        let spec = r.spec();
        assert_eq!((spec.sample_rate, spec.channels, spec.bits_per_sample), (8000, 1, 16), "{}", p.display());
        let audio: Vec<i16> = r.samples::<i16>().map(Result::unwrap).collect();
        seconds += audio.len() as f64 / 8000.0;
        assert_eq!(digits_in(&audio), "", "{} as recorded", p.display());
        // As the server would hear it from a caller: through G.711 both ways.
        let mu: Vec<i16> = audio.iter().map(|&s| ulaw_decode(ulaw_encode(s))).collect();
        assert_eq!(digits_in(&mu), "", "{} through PCMU", p.display());
        let a: Vec<i16> = audio.iter().map(|&s| alaw_decode(alaw_encode(s))).collect();
        assert_eq!(digits_in(&a), "", "{} through PCMA", p.display());
    }
    assert!(seconds > 300.0, "minutes of speech were checked: {seconds:.0} s");
}
