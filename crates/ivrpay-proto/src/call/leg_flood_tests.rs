//! In-dialog floods: a peer (or a stranger who learnt the Call-ID) sending requests with
//! new branches as fast as it can must not grow the leg without bound.

use super::tests::{answered, drain, flow, msg, to_tag};
use crate::sip::transaction::MAX_DIALOG_TRANSACTIONS;
use std::time::Instant;

#[test]
fn a_flood_of_in_dialog_requests_keeps_at_most_the_cap_of_transactions() {
    let t0 = Instant::now();
    let mut leg = answered(t0);
    let tag = to_tag(&leg);
    for i in 0..5_000u32 {
        leg.on_request(msg("OPTIONS", &format!("z9hG4bKfl{i}"), 10 + i, Some(&tag), "", ""), flow(), t0);
    }
    assert_eq!(drain(&mut leg).len(), 5_000, "every request answered");
    assert_eq!(leg.nist.len(), MAX_DIALOG_TRANSACTIONS);
    assert_eq!(leg.nist.evicted(), 5_000 - MAX_DIALOG_TRANSACTIONS as u64);
    // The newest still gets its kept answer again.
    let last = msg("OPTIONS", "z9hG4bKfl4999", 5_009, Some(&tag), "", "");
    leg.on_request(last, flow(), t0);
    assert_eq!(drain(&mut leg), ["send:200"]);
}

#[test]
fn requests_outside_the_dialog_are_answered_481_and_leave_no_state() {
    let t0 = Instant::now();
    let mut leg = answered(t0);
    for i in 0..1_000u32 {
        leg.on_request(msg("BYE", &format!("z9hG4bKx{i}"), 5 + i, Some("guessed"), "", ""), flow(), t0);
    }
    let out = drain(&mut leg);
    assert_eq!(out.len(), 1_000);
    assert!(out.iter().all(|o| o == "send:481"));
    assert!(leg.nist.is_empty(), "no transaction kept for a 481");
}
