//! A caller on a real UDP socket speaking just enough SIP by hand (INVITE with an SDP
//! offer naming a given RTP address, ACK, BYE), for tests that need what `ivrpay call`
//! would never do: a chosen source address, an offer naming another host, an ACK
//! withheld.

use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::time::timeout;

/// An audio offer (PCMU and telephone-event) naming `rtp`.
pub fn sdp(rtp: SocketAddr) -> String {
    format!(
        "v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio {port} RTP/AVP 0 101\r\n\
         a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n",
        ip = rtp.ip(),
        port = rtp.port()
    )
}

/// A caller on a real UDP socket, speaking just enough SIP by hand.
pub struct Caller {
    /// Its SIP socket.
    pub sip: UdpSocket,
    /// Where it called.
    pub server: SocketAddr,
    /// Its Call-ID.
    pub call_id: String,
    /// The server's tag, once answered.
    pub to_tag: String,
}

pub fn request(c: &Caller, method: &str, user: &str, cseq: u32, to_tag: &str, body: &str) -> String {
    let me = c.sip.local_addr().unwrap();
    let to = if to_tag.is_empty() { String::new() } else { format!(";tag={to_tag}") };
    let ct = if body.is_empty() { "" } else { "Content-Type: application/sdp\r\n" };
    format!(
        "{method} sip:{user}@{srv} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK{method}{cseq}{id}\r\n\
         From: <sip:tester@{me}>;tag=ft\r\nTo: <sip:{user}@{srv}>{to}\r\nCall-ID: {id}\r\nCSeq: {cseq} {method}\r\n\
         Contact: <sip:tester@{me}>\r\nMax-Forwards: 70\r\n{ct}Content-Length: {}\r\n\r\n{body}",
        body.len(),
        srv = c.server,
        id = c.call_id,
    )
}

/// The first final answer to what was sent (100 Trying skipped), or None after 3 s.
pub async fn final_answer(sock: &UdpSocket) -> Option<String> {
    let mut buf = vec![0u8; 65535];
    loop {
        let (n, _) = timeout(Duration::from_secs(3), sock.recv_from(&mut buf)).await.ok()?.ok()?;
        let text = String::from_utf8_lossy(&buf[..n]).to_string();
        if !text.starts_with("SIP/2.0 1") {
            return Some(text);
        }
    }
}

pub fn header<'a>(msg: &'a str, name: &str) -> &'a str {
    msg.lines().find(|l| l.starts_with(name)).unwrap_or("")
}

/// Places an INVITE for `user` whose SDP names `rtp`; returns the answer and, on a
/// 200, the server's RTP address.
pub async fn invite(
    server: SocketAddr,
    from_ip: &str,
    user: &str,
    rtp: SocketAddr,
) -> (Caller, String, Option<SocketAddr>) {
    let sip = UdpSocket::bind((from_ip, 0)).await.unwrap();
    let mut c = Caller { sip, server, call_id: format!("hostile-{}-{}", user, rtp.port()), to_tag: String::new() };
    let inv = request(&c, "INVITE", user, 1, "", &sdp(rtp));
    c.sip.send_to(inv.as_bytes(), server).await.unwrap();
    let answer = final_answer(&c.sip).await.expect("an answer");
    c.to_tag = header(&answer, "To:").split(";tag=").nth(1).unwrap_or("").trim().to_string();
    let port = answer.lines().find_map(|l| l.strip_prefix("m=audio ")).and_then(|r| r.split(' ').next());
    let media = port.map(|p| SocketAddr::new(server.ip(), p.parse().unwrap()));
    (c, answer, media)
}

pub async fn ack(c: &Caller, user: &str) {
    let ack = request(c, "ACK", user, 1, &c.to_tag, "");
    c.sip.send_to(ack.as_bytes(), c.server).await.unwrap();
}

pub async fn bye(c: &Caller, user: &str) {
    let bye = request(c, "BYE", user, 2, &c.to_tag, "");
    c.sip.send_to(bye.as_bytes(), c.server).await.unwrap();
    let answer = final_answer(&c.sip).await.expect("BYE answered");
    assert!(answer.starts_with("SIP/2.0 200"), "{answer}");
}
