//! The UAS side of an INVITE dialog (RFC 3261 12): its identity, the remote target and
//! route set learnt from the INVITE, CSeq bookkeeping, and building the in-dialog
//! requests ivrpay sends (BYE).
//!
//! Tags, branches and the first CSeq are random: the randomness comes from the caller's
//! generator (`&mut dyn RngCore`), never from an ambient one, so tests are reproducible.

use super::headers::{self, uri_of};
use super::message::{MessageBuilder, Method, Request};
use rand_core::RngCore;

/// Why an in-dialog request was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DialogError {
    /// CSeq lower than one already seen: RFC 3261 12.2.2 says 500.
    #[error("CSeq {got} is lower than {last}")]
    CSeqOutOfOrder {
        /// The request's CSeq number.
        got: u32,
        /// The highest one seen in this dialog.
        last: u32,
    },
    /// Tags do not match this dialog: 481.
    #[error("no such dialog")]
    NoSuchDialog,
}

/// Dialog state established by an incoming INVITE.
#[derive(Clone, Debug)]
pub struct Dialog {
    /// Call-ID.
    pub call_id: String,
    /// Our tag (To tag of our answers).
    pub local_tag: String,
    /// The caller's From tag.
    pub remote_tag: String,
    /// The From header of the INVITE, which is the To of our requests.
    remote_party: String,
    /// The To header of the INVITE without tag, the From of our requests.
    local_party: String,
    /// Where in-dialog requests go: the caller's Contact URI (updated by re-INVITE).
    pub remote_target: String,
    /// Record-Route of the INVITE, in order (the UAS keeps it as received, 12.1.1).
    pub route_set: Vec<String>,
    remote_cseq: u32,
    local_cseq: u32,
}

impl Dialog {
    /// Creates the dialog from the INVITE we answer with a 2xx; our first CSeq is drawn
    /// from `rng`.
    pub fn from_invite(invite: &Request, local_tag: &str, rng: &mut dyn RngCore) -> Dialog {
        let h = &invite.headers;
        let remote_target =
            h.get("Contact").map(|c| uri_of(headers::split_list(c).first().copied().unwrap_or(c)).to_string());
        let from = h.get("From").unwrap_or_default().to_string();
        Dialog {
            call_id: invite.core.call_id.clone(),
            local_tag: local_tag.to_string(),
            remote_tag: invite.core.from_tag.clone().unwrap_or_default(),
            remote_target: remote_target.unwrap_or_else(|| uri_of(&from).to_string()),
            remote_party: from,
            local_party: h.get("To").unwrap_or_default().to_string(),
            route_set: h.get_all("Record-Route").into_iter().map(str::to_string).collect(),
            remote_cseq: invite.core.cseq,
            local_cseq: (rng.next_u32() & 0xffff) + 1,
        }
    }

    /// True when a request carries this dialog's identity (Call-ID, both tags).
    pub fn matches(&self, req: &Request) -> bool {
        req.core.call_id == self.call_id
            && req.core.to_tag.as_deref() == Some(self.local_tag.as_str())
            && req.core.from_tag.as_deref().unwrap_or("") == self.remote_tag
    }

    /// Checks and records the CSeq of an in-dialog request (ACK and CANCEL excluded:
    /// they reuse the INVITE's number).
    pub fn accept_cseq(&mut self, cseq: u32) -> Result<(), DialogError> {
        if cseq < self.remote_cseq {
            return Err(DialogError::CSeqOutOfOrder { got: cseq, last: self.remote_cseq });
        }
        self.remote_cseq = cseq;
        Ok(())
    }

    /// A re-INVITE may move the peer: its Contact becomes the new remote target.
    pub fn update_target(&mut self, req: &Request) {
        if let Some(c) = req.headers.get("Contact") {
            self.remote_target = uri_of(c).to_string();
        }
    }

    /// The URI whose host:port the next hop is: the first route, or the remote target.
    pub fn next_hop_uri(&self) -> &str {
        self.route_set.first().map(|r| uri_of(r)).unwrap_or(&self.remote_target)
    }

    /// Builds an in-dialog request (BYE, INFO) with a fresh branch drawn from `rng` and
    /// the next CSeq. `via` is our sent-by with transport, e.g. `SIP/2.0/UDP 10.0.0.1:5060`.
    pub fn request(
        &mut self,
        method: Method,
        via: &str,
        contact: &str,
        rng: &mut dyn RngCore,
    ) -> (MessageBuilder, String) {
        self.local_cseq += 1;
        let branch = new_branch(rng);
        let b = self.request_with(method, self.local_cseq, &branch, via, contact);
        (b, branch)
    }
}

/// A new RFC 3261 branch: magic cookie plus enough randomness to be unique.
pub fn new_branch(rng: &mut dyn RngCore) -> String {
    format!("z9hG4bK{:016x}", rng.next_u64())
}

/// A new tag for our side of a dialog.
pub fn new_tag(rng: &mut dyn RngCore) -> String {
    format!("{:012x}", rng.next_u64() & 0xffff_ffff_ffff)
}

fn strip_tag(party: &str) -> String {
    match party.find(";tag=").or_else(|| party.find(";TAG=")) {
        Some(i) => {
            let rest = &party[i + 5..];
            let after = rest.find(';').map(|j| &rest[j..]).unwrap_or("");
            format!("{}{}", &party[..i], after)
        }
        None => party.to_string(),
    }
}

#[path = "dialog_uac.rs"]
mod uac;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::{parse, SipMessage};
    use crate::sip::normalise::Framing;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn rng() -> StdRng {
        StdRng::seed_from_u64(10)
    }

    fn invite(extra: &str) -> Request {
        let raw = format!(
            "INVITE sip:echo@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKa\r\n\
             From: \"A\" <sip:alice@127.0.0.1:5070>;tag=ft\r\nTo: <sip:echo@127.0.0.1>\r\n\
             Call-ID: c1\r\nCSeq: 5 INVITE\r\nContact: <sip:alice@127.0.0.1:5070>\r\n{extra}Content-Length: 0\r\n\r\n"
        );
        match parse(raw.as_bytes(), Framing::Datagram).unwrap() {
            SipMessage::Request(r) => r,
            _ => unreachable!(),
        }
    }

    #[test]
    fn bye_follows_the_record_route_set_and_the_contact() {
        let inv = invite("Record-Route: <sip:p1.example;lr>, <sip:p2.example;lr>\r\n");
        let mut d = Dialog::from_invite(&inv, "lt", &mut rng());
        assert_eq!(d.next_hop_uri(), "sip:p1.example;lr");
        let (b, branch) =
            d.request(Method::Bye, "SIP/2.0/UDP 127.0.0.1:5060", "<sip:ivrpay@127.0.0.1:5060>", &mut rng());
        let text = String::from_utf8(b.build()).unwrap();
        assert!(text.starts_with("BYE sip:alice@127.0.0.1:5070 SIP/2.0\r\n"), "{text}");
        assert!(text.contains("Route: <sip:p1.example;lr>\r\nRoute: <sip:p2.example;lr>\r\n"));
        assert!(text.contains("From: <sip:echo@127.0.0.1>;tag=lt\r\n"));
        assert!(text.contains("To: \"A\" <sip:alice@127.0.0.1:5070>;tag=ft\r\n"));
        assert!(text.contains(&branch));
    }

    #[test]
    fn strict_router_gets_the_request_uri() {
        let inv = invite("Record-Route: <sip:strict.example>\r\n");
        let mut d = Dialog::from_invite(&inv, "lt", &mut rng());
        let (b, _) = d.request(Method::Bye, "SIP/2.0/UDP 127.0.0.1:5060", "<sip:x@y>", &mut rng());
        let text = String::from_utf8(b.build()).unwrap();
        assert!(text.starts_with("BYE sip:strict.example SIP/2.0"), "{text}");
        assert!(text.contains("Route: <sip:alice@127.0.0.1:5070>"));
    }

    #[test]
    fn cseq_must_not_go_backwards() {
        let mut d = Dialog::from_invite(&invite(""), "lt", &mut rng());
        assert_eq!(d.accept_cseq(6), Ok(()));
        assert_eq!(d.accept_cseq(4), Err(DialogError::CSeqOutOfOrder { got: 4, last: 6 }));
    }

    #[test]
    fn the_same_seed_draws_the_same_identifiers() {
        let (mut a, mut b) = (rng(), rng());
        assert_eq!(new_tag(&mut a), new_tag(&mut b));
        assert_eq!(new_branch(&mut a), new_branch(&mut b));
        assert!(new_branch(&mut a).starts_with("z9hG4bK"));
    }
}
