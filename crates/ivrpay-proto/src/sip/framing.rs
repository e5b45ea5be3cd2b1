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
///
/// Each byte is looked at a bounded number of times however the message is split into
/// reads: the search for the end of the headers resumes where the last one stopped,
/// the Content-Length is read once per message, and a message is cut out by moving a
/// start offset rather than shifting what follows it (live bytes move down only when
/// room is needed, which amortises to a constant per byte).
#[derive(Debug)]
pub struct StreamFramer {
    buf: Vec<u8>,
    /// First byte not yet yielded.
    start: usize,
    /// Bytes from `start` already searched for the end of the headers.
    scanned: usize,
    /// The current message's total length, once its headers are in.
    expected: Option<usize>,
    max: usize,
    poisoned: Option<FramingError>,
    /// Bytes the header search has looked at (tests check it stays linear).
    #[cfg(test)]
    inspected: usize,
}

impl StreamFramer {
    /// A framer refusing messages over `max_message` bytes.
    pub fn new(max_message: usize) -> Self {
        StreamFramer {
            buf: Vec::new(),
            start: 0,
            scanned: 0,
            expected: None,
            max: max_message,
            poisoned: None,
            #[cfg(test)]
            inspected: 0,
        }
    }

    /// Appends bytes read from the connection.
    pub fn push(&mut self, data: &[u8]) {
        if self.buf.capacity() - self.buf.len() < data.len() {
            self.compact();
        }
        if self.buf.capacity() - self.buf.len() < data.len() {
            let mut bigger = Vec::with_capacity((self.buf.len() + data.len()).next_power_of_two());
            bigger.extend_from_slice(&self.buf);
            // Wipes the whole old allocation before it is freed.
            self.buf.zeroize();
            self.buf = bigger;
        }
        self.buf.extend_from_slice(data);
    }

    /// Moves the live bytes down to the front, wiping the room they leave past the new
    /// end (what was yielded before them is already wiped).
    fn compact(&mut self) {
        if self.start == 0 {
            return;
        }
        let live = self.buf.len() - self.start;
        self.buf.copy_within(self.start.., 0);
        self.buf[live..].zeroize();
        self.buf.truncate(live);
        self.start = 0;
    }

    /// Cuts the next `n` bytes out, wiping them in the buffer.
    fn take(&mut self, n: usize) -> Vec<u8> {
        let range = self.start..self.start + n;
        let msg = self.buf[range.clone()].to_vec();
        self.buf[range].zeroize();
        self.advance(n);
        msg
    }

    /// Moves the start past `n` bytes; an emptied buffer starts again at the front.
    fn advance(&mut self, n: usize) {
        self.start += n;
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
    }

    /// The next complete message, if one has fully arrived.
    pub fn next_message(&mut self) -> Result<Option<Vec<u8>>, FramingError> {
        if let Some(e) = &self.poisoned {
            return Err(e.clone());
        }
        let total = match self.expected {
            Some(total) => total,
            None => match self.read_head()? {
                Some(total) => total,
                None => return Ok(None),
            },
        };
        if self.buf.len() - self.start < total {
            return Ok(None);
        }
        self.expected = None;
        self.scanned = 0;
        Ok(Some(self.take(total)))
    }

    /// Finds the end of the current message's headers (resuming the search) and reads
    /// its Content-Length: the message's total length, or None until the headers are in.
    fn read_head(&mut self) -> Result<Option<usize>, FramingError> {
        if self.scanned == 0 {
            let skip = self.buf[self.start..].iter().take_while(|&&b| b == b'\r' || b == b'\n').count();
            self.advance(skip);
        }
        let live = &self.buf[self.start..];
        // The end is "\n\n" or "\n\r\n": one that began in what was searched would
        // have ended there too, unless it began in its last two bytes.
        let from = self.scanned.saturating_sub(2);
        let found = split_head(&live[from..]).map(|(h, b)| (from + h, from + b));
        #[cfg(test)]
        {
            self.inspected += found.map_or(live.len(), |(_, b)| b) - from;
        }
        let Some((head_end, body_start)) = found else {
            self.scanned = live.len();
            if live.len() > self.max {
                return self.fail(FramingError::TooLarge);
            }
            return Ok(None);
        };
        let len = match content_length(&live[..head_end]) {
            Ok(Some(n)) => n,
            Ok(None) => return self.fail(FramingError::MissingContentLength),
            Err(e) => return self.fail(e),
        };
        // Checked: a Content-Length near usize::MAX wrapped around to a short message,
        // cutting the stream in the wrong place (found by fuzzing).
        let Some(total) = body_start.checked_add(len).filter(|&n| n <= self.max) else {
            return self.fail(FramingError::TooLarge);
        };
        self.scanned = body_start;
        self.expected = Some(total);
        Ok(Some(total))
    }

    /// The bytes received but not yet yielded: after an error, the offending message
    /// from its first byte, however many reads it came in (so its Via, From, To,
    /// Call-ID and CSeq can still address a 400).
    pub fn pending(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    fn fail<T>(&mut self, e: FramingError) -> Result<T, FramingError> {
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
        assert!(!String::from_utf8_lossy(&f.buf).contains("Signal=4"), "wiped where it was");
        // Room is needed: the pending bytes move down to the front.
        let before = f.buf.len();
        f.push(&vec![b'x'; f.buf.capacity()]);
        assert_eq!(f.start, 0, "compacted");
        assert!(!String::from_utf8_lossy(&f.buf).contains("Signal=4"));
        assert!(f.pending().starts_with(b"OPTIONS sip:a@b SIP/2.0\r\nxxx"), "{before}");
    }

    #[test]
    fn a_message_arriving_a_byte_at_a_time_is_searched_once() {
        let head = format!("INFO sip:a@b SIP/2.0\r\nSubject: {}\r\nContent-Length: 2\r\n\r\nhi", "s".repeat(60_000));
        let mut f = StreamFramer::new(65_535);
        let mut got = None;
        for b in head.as_bytes() {
            f.push(std::slice::from_ref(b));
            if let Some(m) = f.next_message().unwrap() {
                got = Some(m);
            }
        }
        assert_eq!(got.as_deref(), Some(head.as_bytes()));
        // A rescan from the start on each read would look at ~1.8e9 bytes.
        assert!(f.inspected <= 3 * head.len(), "{} bytes looked at", f.inspected);
    }

    #[test]
    fn many_pipelined_messages_are_cut_without_shifting_the_rest() {
        let n = 2_000;
        let stream = B.repeat(n);
        let mut f = StreamFramer::new(1 << 20);
        f.push(&stream);
        let base = f.buf.as_ptr();
        assert_eq!(all(&mut f).len(), n);
        assert!(f.inspected <= stream.len(), "{} bytes looked at", f.inspected);
        assert_eq!(f.buf.as_ptr(), base, "same allocation");
        assert!(f.pending().is_empty());
    }
}
