//! `ivrpay prompts generate` and `ivrpay prompts missing`, run as the real binary on a
//! temporary prompts directory. Needs espeak-ng (CI installs it): without it these tests
//! fail, saying so, rather than skip.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn ivrpay(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ivrpay")).args(args).env_remove("IVRPAY_ESPEAK").output().unwrap()
}

fn text(out: &Output) -> (String, String) {
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// A fresh prompts directory with a small manifest per language and one real recording.
fn prompts_dir(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("prompts-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("fr")).unwrap();
    std::fs::create_dir_all(dir.join("en")).unwrap();
    std::fs::write(
        dir.join("fr/manifest.toml"),
        "# test\n[prompts]\ndigit_1 = \"un\"\nnum_21 = \"vingt et un\"\ncur_eur_n = \"euros\"\n\
         letter_m = { text = \"emme\", tts = \"èm\" }\n",
    )
    .unwrap();
    std::fs::write(dir.join("en/manifest.toml"), "[prompts]\nnum_71 = \"seventy-one\"\nday_31 = \"thirty-first\"\n")
        .unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts/fr/digit_1.wav");
    std::fs::copy(shipped, dir.join("fr/digit_1.wav")).unwrap();
    dir
}

#[test]
fn generates_missing_prompts_as_8khz_mono_16bit_speech_once() {
    let dir = prompts_dir("generate");
    let d = dir.to_str().unwrap();
    let recorded = std::fs::read(dir.join("fr/digit_1.wav")).unwrap();

    let out = ivrpay(&["prompts", "missing", "--dir", d]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("fr num_21 (") && stdout.contains(":4): vingt et un"), "{stdout}");
    assert!(stdout.contains("fr: 3 of 4 prompts missing") && stdout.contains("en: 2 of 2 prompts missing"), "{stdout}");

    let out = ivrpay(&["prompts", "generate", "--dir", d]);
    let (stdout, stderr) = text(&out);
    assert!(
        out.status.success(),
        "ivrpay prompts generate failed (espeak-ng must be installed: apt-get install espeak-ng):\n{stderr}"
    );
    assert_eq!(stdout.lines().filter(|l| l.starts_with("generated ")).count(), 5, "{stdout}");
    assert!(stdout.contains("fr: 3 generated, 1 already recorded"), "{stdout}");
    assert!(stdout.contains("en: 2 generated, 0 already recorded"), "{stdout}");
    assert_eq!(std::fs::read(dir.join("fr/digit_1.wav")).unwrap(), recorded, "an existing recording was replaced");

    for file in ["fr/num_21", "fr/cur_eur_n", "fr/letter_m", "en/num_71", "en/day_31"] {
        let path = dir.join(format!("{file}.wav"));
        let mut reader = hound::WavReader::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let spec = reader.spec();
        assert_eq!(
            (spec.sample_rate, spec.channels, spec.bits_per_sample, spec.sample_format),
            (8000, 1, 16, hound::SampleFormat::Int),
            "{file}"
        );
        let pcm: Vec<i16> = reader.samples::<i16>().map(Result::unwrap).collect();
        let ms = pcm.len() / 8;
        assert!((150..=2000).contains(&ms), "{file}: {ms} ms");
        let rms = (pcm.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / pcm.len() as f64).sqrt();
        assert!(rms > 1000.0, "{file}: RMS {rms:.0}: silent?");
        // Trimmed: a short silent margin (25 ms), then speech.
        assert!(pcm[..160].iter().all(|s| s.unsigned_abs() < 300), "{file}: speech in the first 20 ms");
        assert!(pcm[..1600].iter().any(|s| s.unsigned_abs() > 1000), "{file}: no speech in the first 200 ms");
        assert!(pcm[pcm.len() - 160..].iter().all(|s| s.unsigned_abs() < 300), "{file}: speech in the last 20 ms");
    }
    assert!(std::fs::read_dir(dir.join("fr")).unwrap().all(|e| {
        let name = e.unwrap().file_name();
        name == "manifest.toml" || name.to_string_lossy().ends_with(".wav")
    }));

    let modified = std::fs::metadata(dir.join("fr/num_21.wav")).unwrap().modified().unwrap();
    let out = ivrpay(&["prompts", "generate", "--dir", d, "--lang", "all"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(!stdout.contains("generated "), "second run generated again:\n{stdout}");
    assert!(stdout.contains("fr: 0 generated, 4 already recorded"), "{stdout}");
    assert_eq!(std::fs::metadata(dir.join("fr/num_21.wav")).unwrap().modified().unwrap(), modified);

    let out = ivrpay(&["prompts", "missing", "--dir", d, "--lang", "en"]);
    assert_eq!(text(&out).0, "en: 0 of 2 prompts missing\n");

    let out = ivrpay(&["prompts", "generate", "--dir", d, "--lang", "en", "--force"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("en: 2 generated, 0 already recorded") && !stdout.contains("fr:"), "{stdout}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn fails_clearly_without_espeak_or_with_a_bad_manifest() {
    let dir = prompts_dir("errors");
    let d = dir.to_str().unwrap();

    let out = ivrpay(&["prompts", "generate", "--dir", d, "--espeak", "/nonexistent/espeak-ng"]);
    let (stdout, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(stderr.contains("/nonexistent/espeak-ng") && stderr.contains("apt-get install espeak-ng"), "{stderr}");
    assert!(!stdout.contains("generated "), "{stdout}");

    std::fs::write(dir.join("en/manifest.toml"), "[prompts]\nnum_71 = \"seventy-one\"\n\nNum-72 = \"x\"\n").unwrap();
    for cmd in ["generate", "missing"] {
        let out = ivrpay(&["prompts", cmd, "--dir", d]);
        let (_, stderr) = text(&out);
        assert!(!out.status.success(), "{cmd}");
        let at = format!("{}:4: prompt name 'Num-72'", dir.join("en/manifest.toml").display());
        assert!(stderr.contains(&at), "{cmd}: {stderr}");
    }
    assert!(!dir.join("fr/num_21.wav").exists(), "generated before checking every manifest");

    let out = ivrpay(&["prompts", "generate", "--dir", d, "--lang", "de"]);
    let (_, stderr) = text(&out);
    assert!(!out.status.success() && stderr.contains("de/manifest.toml"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The shipped set is complete: each language's manifest has a recording for every
/// entry, and every prompt the shipped dialplans name, and every fragment used to say
/// values, is recorded in both French and English (not merely heard through the
/// default language's fallback).
#[test]
fn the_shipped_prompts_are_complete_in_both_languages() {
    use ivrpay::ivr::dialplan::registry::{plan_prompt_names, Dialplans};
    use ivrpay::ivr::manifest::Manifest;
    use ivrpay::ivr::say::{self, Language};
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("prompts");
    let lib = ivrpay::ivr::prompts::load(&dir, "fr").unwrap();
    let plans = Dialplans::load_dir(&root.join("dialplans"), &lib, &[]).unwrap();
    assert!(!plans.plans().is_empty());
    for (lang, say_lang) in [("fr", Language::Fr), ("en", Language::En)] {
        let manifest = Manifest::load(&dir, lang).unwrap();
        let missing: Vec<&str> = manifest.missing(&lib).iter().map(|e| e.name.as_str()).collect();
        assert!(missing.is_empty(), "{lang}: described but not recorded: {missing:?}");
        for plan in plans.plans() {
            for name in plan_prompt_names(plan) {
                assert!(lib.has(lang, &name), "{lang}/{name}.wav, named by {}", plan.path.display());
                assert!(manifest.get(&name).is_some(), "{lang}: {name} described in the manifest");
            }
        }
        for name in say::fragment_names(say_lang) {
            assert!(lib.has(lang, name), "{lang}/{name}.wav, a fragment to say values");
        }
    }
}

/// A buffer the fallback warning is written to.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_prompt_missing_in_one_language_falls_back_to_the_default_with_a_warning() {
    let dir = prompts_dir("fallback");
    // English describes digit_1 too but has no recording of it.
    std::fs::write(dir.join("en/manifest.toml"), "[prompts]\ndigit_1 = \"one\"\ndigit_2 = \"two\"\n").unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts/en/digit_2.wav");
    std::fs::copy(shipped, dir.join("en/digit_2.wav")).unwrap();
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt().with_writer(move || writer.clone()).with_ansi(false).finish();
    let lib = tracing::subscriber::with_default(subscriber, || ivrpay::ivr::prompts::load(&dir, "fr")).unwrap();
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        log.lines().any(|l| l.contains("WARN")
            && l.contains("lang=en")
            && l.contains("prompt=digit_1")
            && l.contains("the default language's recording will play")),
        "{log}"
    );
    let p = lib.get("en", "digit_1").expect("never silence");
    assert_eq!(p.language, "fr", "the French recording plays");
    let _ = std::fs::remove_dir_all(&dir);
}
