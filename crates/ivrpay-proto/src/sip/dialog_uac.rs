//! The UAC side of an INVITE dialog (RFC 3261 12.1.2): the dialog `ivrpay call` forms
//! from the 2xx to its INVITE, and the in-dialog requests it sends (ACK of a 2xx, BYE,
//! INFO, re-INVITE) on a branch the caller chose, so the randomness stays with the
//! caller's seeded generator.
//!
//! A child of `dialog` (it fills the same private fields); it knows messages and headers,
//! not transactions or sockets.

use super::{strip_tag, Dialog};
use crate::sip::headers::{self, uri_of};
use crate::sip::message::{MessageBuilder, Method, Response};

impl Dialog {
    /// Creates the dialog from the 2xx to an INVITE we sent: `invite_from` is that
    /// INVITE's From (with or without our tag), `invite_cseq` its CSeq number. The
    /// remote target is the 2xx's Contact and the route set its Record-Route reversed.
    pub fn from_2xx(invite_from: &str, local_tag: &str, invite_cseq: u32, resp: &Response) -> Dialog {
        let h = &resp.headers;
        let to = h.get("To").unwrap_or_default().to_string();
        let remote_target =
            h.get("Contact").map(|c| uri_of(headers::split_list(c).first().copied().unwrap_or(c)).to_string());
        Dialog {
            call_id: resp.core.call_id.clone(),
            local_tag: local_tag.to_string(),
            remote_tag: resp.core.to_tag.clone().unwrap_or_default(),
            remote_target: remote_target.unwrap_or_else(|| uri_of(&to).to_string()),
            remote_party: to,
            local_party: invite_from.to_string(),
            route_set: h.get_all("Record-Route").into_iter().rev().map(str::to_string).collect(),
            // 12.1.2: the remote sequence number is empty until the peer sends a request.
            remote_cseq: 0,
            local_cseq: invite_cseq,
        }
    }

    /// The next in-dialog request (BYE, INFO, re-INVITE) on `branch`, with the next CSeq.
    pub fn next_request(&mut self, method: Method, branch: &str, via: &str, contact: &str) -> MessageBuilder {
        self.local_cseq += 1;
        self.request_with(method, self.local_cseq, branch, via, contact)
    }

    /// The ACK of a 2xx (13.2.2.4): its own transaction (a new `branch`), the INVITE's
    /// CSeq number, the dialog's route set.
    pub fn ack(&self, invite_cseq: u32, branch: &str, via: &str, contact: &str) -> MessageBuilder {
        self.request_with(Method::Ack, invite_cseq, branch, via, contact)
    }

    /// An in-dialog request with its CSeq number and branch given: the one builder of
    /// To/From/Route for both sides (loose or strict routing, RFC 3261 12.2.1.1).
    pub(super) fn request_with(
        &self,
        method: Method,
        cseq: u32,
        branch: &str,
        via: &str,
        contact: &str,
    ) -> MessageBuilder {
        let to = format!("{};tag={}", strip_tag(&self.remote_party), self.remote_tag);
        let from = format!("{};tag={}", strip_tag(&self.local_party), self.local_tag);
        // Loose routing (12.2.1.1) when the first route has `lr`, strict otherwise.
        let first_is_loose = self.route_set.first().is_none_or(|r| uri_of(r).contains(";lr"));
        let (ruri, routes): (String, Vec<String>) = if first_is_loose {
            (self.remote_target.clone(), self.route_set.clone())
        } else {
            let mut rs: Vec<String> = self.route_set[1..].to_vec();
            rs.push(format!("<{}>", self.remote_target));
            (uri_of(&self.route_set[0]).to_string(), rs)
        };
        let mut b = MessageBuilder::request(method.clone(), &ruri)
            .header("Via", &format!("{via};branch={branch};rport"))
            .header("Max-Forwards", "70");
        for r in &routes {
            b = b.header("Route", r);
        }
        b.header("From", &from)
            .header("To", &to)
            .header("Call-ID", &self.call_id)
            .header("CSeq", &format!("{cseq} {method}"))
            .header("Contact", contact)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::{parse, SipMessage};
    use crate::sip::normalise::Framing;

    fn ok(extra: &str) -> Response {
        let raw = format!(
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKa;rport\r\n\
             From: <sip:caller@127.0.0.1>;tag=ft\r\nTo: <sip:pay@127.0.0.1>;tag=tt\r\n\
             Call-ID: c1\r\nCSeq: 1 INVITE\r\nContact: <sip:ivrpay@127.0.0.1:5060>\r\n{extra}Content-Length: 0\r\n\r\n"
        );
        match parse(raw.as_bytes(), Framing::Datagram).unwrap() {
            SipMessage::Response(r) => r,
            _ => unreachable!(),
        }
    }

    #[test]
    fn uac_dialog_follows_the_reversed_record_route_and_the_contact() {
        let resp = ok("Record-Route: <sip:p2.example;lr>, <sip:p1.example;lr>\r\n");
        let mut d = Dialog::from_2xx("<sip:caller@127.0.0.1>;tag=ft", "ft", 1, &resp);
        assert_eq!(d.next_hop_uri(), "sip:p1.example;lr");
        let bye = String::from_utf8(
            d.next_request(Method::Bye, "z9hG4bKb", "SIP/2.0/UDP 127.0.0.1:5070", "<sip:c@h>").build(),
        )
        .unwrap();
        assert!(bye.starts_with("BYE sip:ivrpay@127.0.0.1:5060 SIP/2.0\r\n"), "{bye}");
        assert!(bye.contains("Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKb;rport\r\n"));
        assert!(bye.contains("Route: <sip:p1.example;lr>\r\nRoute: <sip:p2.example;lr>\r\n"), "{bye}");
        assert!(bye.contains("From: <sip:caller@127.0.0.1>;tag=ft\r\nTo: <sip:pay@127.0.0.1>;tag=tt\r\n"), "{bye}");
        assert!(bye.contains("CSeq: 2 BYE\r\n"), "{bye}");
    }

    #[test]
    fn ack_of_a_2xx_keeps_the_invite_cseq_and_does_not_consume_one() {
        let mut d = Dialog::from_2xx("<sip:caller@127.0.0.1>", "ft", 1, &ok(""));
        let ack = String::from_utf8(d.ack(1, "z9hG4bKk", "SIP/2.0/UDP h:1", "<sip:c@h>").build()).unwrap();
        assert!(
            ack.starts_with("ACK sip:ivrpay@127.0.0.1:5060 SIP/2.0\r\n") && ack.contains("CSeq: 1 ACK\r\n"),
            "{ack}"
        );
        assert!(ack.contains("From: <sip:caller@127.0.0.1>;tag=ft\r\n"), "{ack}");
        let info = String::from_utf8(d.next_request(Method::Info, "z9hG4bKi", "SIP/2.0/UDP h:1", "<sip:c@h>").build())
            .unwrap();
        assert!(info.contains("CSeq: 2 INFO\r\n"), "{info}");
        assert_eq!(d.accept_cseq(1), Ok(()), "no remote CSeq yet");
    }
}
