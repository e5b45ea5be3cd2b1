//! The call guards hang up cleanly with a BYE: no RTP from the caller for the
//! configured time, or the maximum call duration reached.

mod common;

use ivrpay::caller::{self, CallOptions, EndedBy};
use std::time::Duration;

async fn call_until_server_hangs_up(send_audio: bool, cfg: ivrpay::config::Config) -> ivrpay::caller::CallSummary {
    let server = common::start(cfg).await;
    let opts = CallOptions {
        target: format!("sip:echo@{}", server.sip_addr()),
        wait_for_bye: true,
        send_audio,
        max_duration: Duration::from_secs(10),
        ..CallOptions::default()
    };
    let s = caller::run(&opts).await.expect("call runs");
    // The caller returns once it has answered the server's BYE; the server's call task
    // ends when that answer reaches it, a moment later (bounded here).
    for _ in 0..50 {
        if server.ctx().active_calls() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    assert_eq!(server.ctx().active_calls(), 0, "the call is over on the server too");
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_whose_audio_stops_is_hung_up_after_the_inactivity_timeout() {
    let mut cfg = common::config();
    cfg.media.inactivity_timeout_s = 1;
    let s = call_until_server_hangs_up(false, cfg).await;
    assert_eq!((s.status, s.ended_by), (200, EndedBy::Server), "{s}");
    assert!(s.duration_ms >= 1000 && s.duration_ms < 4000, "{s}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_is_hung_up_at_its_maximum_duration() {
    let mut cfg = common::config();
    cfg.media.max_call_duration_s = 2;
    let s = call_until_server_hangs_up(true, cfg).await;
    assert_eq!((s.status, s.ended_by), (200, EndedBy::Server), "{s}");
    assert!(s.duration_ms >= 2000 && s.duration_ms < 5000, "{s}");
    assert!(s.rtp_received > 0, "audio flowed until then");
}
