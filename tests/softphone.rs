//! A real softphone, baresip (Debian package `baresip-core`), calls the echo service:
//! it must hear the greeting and get the digits it sends (RFC 4733, from its keypad via
//! the UDP console module) read back. Its decoded-audio dump is compared with the
//! shipped prompts within one G.711 step (baresip's µ-law decoder rounds differently).

mod common;

use ivrpay::ivr::prompts::PromptLibrary;
use ivrpay::media::codec::Codec;
use ivrpay::media::g711;
use std::path::Path;
use std::time::Duration;

fn heard(lib: &PromptLibrary, name: &str) -> Vec<i16> {
    let enc = lib.get("fr", name).unwrap().encoded(Codec::Pcmu).to_vec();
    let mut pcm = vec![0i16; enc.len()];
    g711::decode_frame(Codec::Pcmu, &enc, &mut pcm);
    pcm
}

fn write_config(dir: &Path, sip_port: u16, cons_port: u16) {
    let spec =
        hound::WavSpec { channels: 1, sample_rate: 8000, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut w = hound::WavWriter::create(dir.join("silence.wav"), spec).unwrap();
    for _ in 0..8000 * 30 {
        w.write_sample(0i16).unwrap();
    }
    w.finalize().unwrap();
    let config = format!(
        "poll_method epoll\nsip_listen 127.0.0.1:{sip_port}\naudio_player aubridge,dev0\naudio_source aufile,{src}\naudio_alert aubridge,dev0\n\
         module_path /usr/lib/baresip/modules\nmodule g711.so\nmodule aufile.so\nmodule aubridge.so\nmodule sndfile.so\nmodule cons.so\n\
         module_app account.so\nmodule_app menu.so\ncons_listen 127.0.0.1:{cons_port}\nsnd_path {dir}\n",
        src = dir.join("silence.wav").display(),
        dir = dir.display()
    );
    std::fs::write(dir.join("config"), config).unwrap();
    std::fs::write(dir.join("accounts"), "<sip:softphone@127.0.0.1>;regint=0;audio_codecs=PCMU\n").unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baresip_hears_the_greeting_and_its_digits_read_back() {
    let server = common::start(common::config()).await;
    let dir = std::env::temp_dir().join(format!("ivrpay-baresip-{}-{}", std::process::id(), rand::random::<u32>()));
    std::fs::create_dir_all(&dir).unwrap();
    let cons_port = common::free_port();
    write_config(&dir, common::free_port(), cons_port);
    let mut phone = tokio::process::Command::new("baresip")
        .arg("-f")
        .arg(&dir)
        .args(["-e", &format!("/dial sip:echo@{}", server.sip_addr()), "-t", "9"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("baresip runs (apt-get install baresip-core; .ci/run does)");
    // Wait for the call, let the greeting start, then press keys on the phone.
    for _ in 0..50 {
        if server.ctx().active_calls() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(server.ctx().active_calls(), 1, "baresip's call was answered");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let console = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    // The final '#' pushes the end of the '9' read-back out of baresip's jitter buffer:
    // the server sends nothing in silence, and baresip releases queued frames only as
    // new packets arrive.
    for key in ["1", "5", "9", "#"] {
        console.send_to(key.as_bytes(), ("127.0.0.1", cons_port)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(800)).await;
    }
    // Hang up from the phone (its audio dump is flushed when the call closes).
    tokio::time::sleep(Duration::from_millis(1000)).await;
    console.send_to(b"/hangup\n", ("127.0.0.1", cons_port)).await.unwrap();
    let status = tokio::time::timeout(Duration::from_secs(20), phone.wait()).await.expect("baresip quits").unwrap();
    assert!(status.success(), "baresip exited cleanly (not killed, no error): {status}");
    // The phone's /hangup ended the call: the server saw its BYE, not a timeout of ours.
    let calls = common::completed_calls(&server.ctx().store, 1).await;
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].end_reason.as_deref(), Some("caller_bye"), "{:?}", calls[0]);
    assert_eq!(server.ctx().digits_received(), 4, "four RFC 4733 digits from baresip");

    let dump = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.to_string_lossy().ends_with("-dec.wav"))
        .expect("baresip dumped what it heard");
    // baresip updates the WAV header only now and then: read the samples to the end of
    // the file rather than as far as the header says.
    let bytes = std::fs::read(&dump).unwrap();
    let data = bytes.windows(4).position(|w| w == b"data").expect("a data chunk") + 8;
    let samples: Vec<i16> = bytes[data..].chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]])).collect();
    let lib = ivrpay::ivr::prompts::load(&common::root().join("prompts"), "fr").unwrap();
    let greeting = heard(&lib, "echo_welcome");
    assert!(common::find_close(&samples, &greeting[..4000], 0).is_some(), "greeting heard by the softphone");
    let mut at = 0;
    for name in ["digit_1", "digit_5", "digit_9"] {
        let pcm = heard(&lib, name);
        at = common::find_close(&samples, &pcm, at).unwrap_or_else(|| panic!("{name} heard after sample {at}"))
            + pcm.len();
    }
    let _ = std::fs::remove_dir_all(&dir);
}
