//! Cuts SIP messages out of a TCP byte stream (RFC 3261 18.3): headers end at the
//! first blank line, the body is Content-Length bytes. Keep-alive CRLFs between
//! messages (RFC 5626) are skipped.
//!
//! A stream message without Content-Length cannot be framed: the caller answers 400 and
//! must close the connection, because where the next message starts is unknown. After
//! any error the framer is poisoned and returns that error again.
//!
//! A message may carry a card digit (a SIP INFO body), so no copy is left behind in
//! freed or spare memory: the buffer grows by moving into a new allocation and wiping
//! the old one, what a message leaves behind when it is cut out is wiped, and the
//! buffer is wiped when the framer is dropped.

use super::normalise::{expand_compact, split_head};
use zeroize::Zeroize;

/// Why the stream cannot be framed.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum FramingError {
    /// No Content-Length header.
    #[error("Missing Content-Length")]
    MissingContentLength,
    /// Content-Length is not a number.
    #[error("Bad Content-Length")]
    BadContentLength,
    /// Headers or declared body exceed the limit.
    #[error("Message Too Large")]
    TooLarge,
}

/// Accumulates stream bytes and yields whole messages.
#[derive(Debug)]
pub struct StreamFramer {
    buf: Vec<u8>,
    max: usize,
    poisoned: Option<FramingError>,
}

impl StreamFramer {
    /// A framer refusing messages over `max_message` bytes.
    pub fn new(max_message: usize) -> Self {
        StreamFramer { buf: Vec::new(), max: max_message, poisoned: None }
    }

    /// Appends bytes read from the connection.
    pub fn push(&mut self, data: &[u8]) {
        if self.buf.capacity() - self.buf.len() < data.len() {
            let mut bigger = Vec::with_capacity((self.buf.len() + data.len()).next_power_of_two());
            bigger.extend_from_slice(&self.buf);
            // Wipes the whole old allocation before it is freed.
            self.buf.zeroize();
            self.buf = bigger;
        }
        self.buf.extend_from_slice(data);
    }

    /// Cuts the first `n` bytes out, leaving no copy of them (nor of the bytes moved
    /// down over them) in the buffer's spare room.
    fn take_front(&mut self, n: usize) -> Vec<u8> {
        let msg = self.buf[..n].to_vec();
        self.drop_front(n);
        msg
    }

    /// Drops the first `n` bytes, wiping them and the `n` bytes the shift leaves stale
    /// past the new end (the rest of the spare room holds nothing of ours).
    fn drop_front(&mut self, n: usize) {
        self.buf[..n].zeroize();
        self.buf.drain(..n);
        for b in self.buf.spare_capacity_mut().iter_mut().take(n) {
            b.write(0);
        }
    }

    /// The next complete message, if one has fully arrived.
    pub fn next_message(&mut self) -> Result<Option<Vec<u8>>, FramingError> {
        if let Some(e) = &self.poisoned {
            return Err(e.clone());
        }
        let skip = self.buf.iter().take_while(|&&b| b == b'\r' || b == b'\n').count();
        self.drop_front(skip);
        let Some((head_end, body_start)) = split_head(&self.buf) else {
            if self.buf.len() > self.max {
                return self.fail(FramingError::TooLarge);
            }
            return Ok(None);
        };
        let len = match content_length(&self.buf[..head_end]) {
            Ok(Some(n)) => n,
            Ok(None) => return self.fail(FramingError::MissingContentLength),
            Err(e) => return self.fail(e),
        };
        // Checked: a Content-Length near usize::MAX wrapped around to a short message,
        // cutting the stream in the wrong place (found by fuzzing).
        let Some(total) = body_start.checked_add(len).filter(|&n| n <= self.max) else {
            return self.fail(FramingError::TooLarge);
        };
        if self.buf.len() < total {
            return Ok(None);
        }
        Ok(Some(self.take_front(total)))
    }

    /// The bytes received but not yet yielded: after an error, the offending message
    /// from its first byte, however many reads it came in (so its Via, From, To,
    /// Call-ID and CSeq can still address a 400).
    pub fn pending(&self) -> &[u8] {
        &self.buf
    }

    fn fail(&mut self, e: FramingError) -> Result<Option<Vec<u8>>, FramingError> {
        self.poisoned = Some(e.clone());
        Err(e)
    }
}

fn content_length(head: &[u8]) -> Result<Option<usize>, FramingError> {
    let text = String::from_utf8_lossy(head);
    for line in text.split('\n').skip(1) {
        let Some((name, value)) = line.split_once(':') else { continue };
        let name = name.trim();
        let name = expand_compact(name).unwrap_or(name);
        if name.eq_ignore_ascii_case("Content-Length") {
            return value.trim().parse().map(Some).map_err(|_| FramingError::BadContentLength);
        }
    }
    Ok(None)
}

impl Drop for StreamFramer {
    fn drop(&mut self) {
        self.buf.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &[u8] = b"OPTIONS sip:a@h SIP/2.0\r\nCall-ID: 1\r\nContent-Length: 4\r\n\r\nbody";
    const B: &[u8] = b"BYE sip:a@h SIP/2.0\r\nl : 0\r\n\r\n";

    fn all(f: &mut StreamFramer) -> Vec<Vec<u8>> {
        std::iter::from_fn(|| f.next_message().unwrap()).collect()
    }

    #[test]
    fn every_split_point_yields_the_same_two_messages() {
        let stream: Vec<u8> = [b"\r\n\r\n".as_slice(), A, b"\r\n", B].concat();
        for cut in 0..=stream.len() {
            let mut f = StreamFramer::new(65535);
            f.push(&stream[..cut]);
            let mut got = all(&mut f);
            f.push(&stream[cut..]);
            got.extend(all(&mut f));
            assert_eq!(got, vec![A.to_vec(), B.to_vec()], "cut at {cut}");
        }
    }

    #[test]
    fn pipelined_messages_in_one_push() {
        let mut f = StreamFramer::new(65535);
        f.push(&[A, A, B].concat());
        assert_eq!(all(&mut f).len(), 3);
    }

    #[test]
    fn missing_or_bad_length_and_oversize_poison_the_stream() {
        let mut f = StreamFramer::new(65535);
        f.push(b"OPTIONS sip:a@h SIP/2.0\r\nCall-ID: 1\r\n\r\n");
        assert_eq!(f.next_message(), Err(FramingError::MissingContentLength));
        f.push(A);
        assert_eq!(f.next_message(), Err(FramingError::MissingContentLength), "poisoned");
        let mut f = StreamFramer::new(65535);
        f.push(b"OPTIONS sip:a@h SIP/2.0\r\nContent-Length: x\r\n\r\n");
        assert_eq!(f.next_message(), Err(FramingError::BadContentLength));
        let mut f = StreamFramer::new(100);
        f.push(b"OPTIONS sip:a@h SIP/2.0\r\nContent-Length: 500\r\n\r\n");
        assert_eq!(f.next_message(), Err(FramingError::TooLarge));
        let mut f = StreamFramer::new(100);
        f.push(&[b'x'; 200]);
        assert_eq!(f.next_message(), Err(FramingError::TooLarge));
    }

    /// Found by the tcp_framing fuzz target (fuzz/corpus/tcp_framing/crash-19eae318...):
    /// `body_start + Content-Length` overflowed (a panic in debug builds, a wrapped,
    /// short message in release ones).
    #[test]
    fn a_content_length_near_the_integer_limit_is_too_large() {
        for len in [usize::MAX, usize::MAX - 10] {
            let mut f = StreamFramer::new(65535);
            f.push(format!("INFO sip:a@h SIP/2.0\r\nl:{len}\r\n\r\nvvt").as_bytes());
            assert_eq!(f.next_message(), Err(FramingError::TooLarge), "{len}");
        }
        // The fuzzer's stream: a first message of length 0, then one of 2^64 - 1.
        let first: &[u8] = b"@a\x00lp\r\nl:00000000000000000000000000000\x0c\r\x0c\x0c\x0c\x0c\n\r\n";
        let second: &[u8] = b"lp\r\nl:00000000018446744073709551615\x0c\r\x0c\x0c\x0c\x0c\n\r\nvvt";
        let mut f = StreamFramer::new(65535);
        f.push(&[first, second].concat());
        assert_eq!(f.next_message(), Ok(Some(first.to_vec())));
        assert_eq!(f.next_message(), Err(FramingError::TooLarge));
    }

    #[test]
    fn space_before_colon_in_content_length() {
        let mut f = StreamFramer::new(65535);
        f.push(b"INFO sip:a@h SIP/2.0\r\nContent-Length  :  2\r\n\r\nhi");
        assert!(f.next_message().unwrap().unwrap().ends_with(b"\r\n\r\nhi"));
    }

    #[test]
    fn no_copy_of_a_message_is_left_in_the_buffer_once_it_is_cut_out() {
        let info = "INFO sip:a@b SIP/2.0\r\nContent-Length: 24\r\n\r\nSignal=4\r\nDuration=160\r\n";
        let mut f = StreamFramer::new(65_535);
        // Several reads, so the buffer grows (and moves) while the message arrives.
        for chunk in info.as_bytes().chunks(7) {
            f.push(chunk);
        }
        f.push(b"OPTIONS sip:a@b SIP/2.0\r\n");
        assert_eq!(f.next_message().unwrap().unwrap(), info.as_bytes());
        let len = f.buf.len();
        let spare = f.buf.spare_capacity_mut();
        // SAFETY: the bytes just past the end held the message's tail before the shift
        // and were written (wiped) by drop_front.
        let stale: Vec<u8> = spare[..info.len()].iter().map(|b| unsafe { b.assume_init() }).collect();
        assert!(stale.iter().all(|&b| b == 0), "stale room wiped after {len} pending bytes");
        assert!(!String::from_utf8_lossy(&f.buf).contains("Signal=4"));
    }
}
