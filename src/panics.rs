//! The process's panic hook. Rust's default hook prints a panic's message, and the
//! standard library's messages quote the data at fault (a string sliced off a char
//! boundary is quoted whole): from a SIP message, an HTTP body or a call's state, that
//! could be a card number typed as DTMF. This hook logs where the panic happened, on
//! which thread, and the message with every run of six or more digits masked, so no
//! card number, expiry+code run or code can reach the log this way.

/// Runs of this many digits or more are masked: a card number has 12 to 19. Shorter
/// runs stay, as they carry the sizes and offsets that make a panic useful; a security
/// code alone in a message would stay too, which is one more reason card fields live in
/// types whose `Debug` shows nothing (`payments::card`).
const MASK_FROM: usize = 6;

/// `message` with every run of [`MASK_FROM`] or more ASCII digits replaced by
/// `[digits]`.
pub fn redact(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() >= MASK_FROM {
            out.push_str("[digits]");
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in message.chars() {
        if c.is_ascii_digit() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// Installs the hook (once, at start, by the `ivrpay` command).
pub fn install() {
    std::panic::set_hook(Box::new(|info| {
        let payload = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let location = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
        let thread = std::thread::current().name().unwrap_or("unnamed").to_string();
        tracing::error!(%location, %thread, message = %redact(&payload), "panic");
    }));
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn card_numbers_and_long_digit_runs_are_masked() {
        assert_eq!(redact("bad input `4100000000000100` here"), "bad input `[digits]` here");
        assert_eq!(redact("4970101234567890123;12"), "[digits];12");
        assert_eq!(redact("byte index 4 of 12345"), "byte index 4 of 12345", "short runs stay");
        assert_eq!(redact("end 123456"), "end [digits]");
        assert_eq!(redact("inside 'Æ' (bytes 3..5)"), "inside 'Æ' (bytes 3..5)");
    }
}
