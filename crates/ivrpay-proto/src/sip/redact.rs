//! SIP messages as they may appear in a TRACE log. The body of a DTMF INFO request is
//! a keypress, and during card entry a keypress is card data: it is withheld, whatever
//! the log level. Everything else (headers, SDP) is shown, since that is what a
//! signalling trace is for.

/// The message as text for a log line, with any DTMF body withheld.
pub fn for_log(raw: &[u8]) -> String {
    let split = find(raw, b"\r\n\r\n").map(|i| (i, 4)).or_else(|| find(raw, b"\n\n").map(|i| (i, 2)));
    let Some((end, sep)) = split else { return String::from_utf8_lossy(raw).into_owned() };
    let head = String::from_utf8_lossy(&raw[..end]);
    let body = &raw[end + sep..];
    if body.is_empty() {
        return head.into_owned();
    }
    if carries_dtmf(&head) {
        return format!("{head}\r\n\r\n[{} bytes of DTMF withheld]", body.len());
    }
    format!("{head}\r\n\r\n{}", String::from_utf8_lossy(body))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Whether the headers announce a DTMF body (`application/dtmf-relay`,
/// `application/dtmf`, in full or compact form, any case or spacing). Anything not
/// plainly another type counts, to err on the side of withholding.
fn carries_dtmf(head: &str) -> bool {
    head.lines().any(|line| {
        let Some((name, value)) = line.split_once(':') else { return false };
        let name = name.trim();
        (name.eq_ignore_ascii_case("content-type") || name.eq_ignore_ascii_case("c"))
            && value.trim().to_ascii_lowercase().contains("dtmf")
    }) || head
        .lines()
        .next()
        .is_some_and(|l| l.starts_with("INFO ") && !head.to_ascii_lowercase().contains("application/sdp"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtmf_bodies_are_withheld_and_others_shown() {
        let info = b"INFO sip:pay@h SIP/2.0\r\nCall-ID: x\r\nContent-Type: application/dtmf-relay\r\nContent-Length: 24\r\n\r\nSignal=4\r\nDuration=100\r\n";
        let s = for_log(info);
        assert!(s.starts_with("INFO sip:pay@h SIP/2.0") && s.contains("[24 bytes of DTMF withheld]"), "{s}");
        assert!(!s.contains("Signal=4"));
        let compact = b"INFO sip:pay@h SIP/2.0\r\nc : Application/DTMF\r\n\r\n4";
        assert!(!for_log(compact).ends_with('4'));
        let unlabelled = b"INFO sip:pay@h SIP/2.0\r\nCall-ID: x\r\n\r\nSignal=4";
        assert!(!for_log(unlabelled).contains("Signal=4"), "an INFO body of no declared type is withheld too");
        let invite = b"INVITE sip:pay@h SIP/2.0\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n";
        assert!(for_log(invite).ends_with("v=0\r\n"));
        assert_eq!(for_log(b"OPTIONS sip:h SIP/2.0\r\n\r\n"), "OPTIONS sip:h SIP/2.0");
    }
}
