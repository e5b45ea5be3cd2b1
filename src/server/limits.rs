//! What the process asks of the system before it serves.
//!
//! Enough file descriptors for the calls it admits: each call holds an RTP and an RTCP
//! socket, and a TCP caller its connection. The soft `RLIMIT_NOFILE` is raised towards
//! the hard limit; when even that is short, `max_calls` is lowered to what fits and the
//! log says so (a server that refuses a call with 503 beats one that fails it half-way
//! on EMFILE). If not one call fits, the server refuses to start.
//!
//! No core dumps: a payment server's memory holds card digits in flight, so the
//! process is made non-dumpable (`PR_SET_DUMPABLE` 0, which also keeps other users'
//! debuggers out) and its core size limit is set to 0.

use super::ServerError;

/// Descriptors a call may hold: RTP, RTCP and a TCP connection.
pub const PER_CALL: u64 = 3;
/// Descriptors beside the calls: listeners, the database pool, HTTP connections and
/// clients, prompt files read on reload, the pacer's and the runtime's own.
pub const RESERVE: u64 = 256;

/// The calls this process can hold given its descriptor limit, after raising the soft
/// limit as far as the hard one allows: `max_calls` when they fit, fewer (logged) when
/// not, an error when not one does.
pub fn fit_calls(max_calls: usize) -> Result<usize, ServerError> {
    let need = RESERVE + PER_CALL * max_calls as u64;
    let limit = raise_nofile(need);
    if limit >= need {
        return Ok(max_calls);
    }
    let fits = limit.saturating_sub(RESERVE) / PER_CALL;
    if fits == 0 {
        return Err(ServerError::Descriptors { limit, need: RESERVE + PER_CALL });
    }
    tracing::warn!(
        configured = max_calls,
        lowered_to = fits,
        nofile = limit,
        need,
        "lowering sip.max_calls: not enough file descriptors (raise LimitNOFILE / ulimit -n)"
    );
    Ok(fits as usize)
}

/// Raises the soft descriptor limit to `need` (at most the hard limit); returns the
/// soft limit now in force.
fn raise_nofile(need: u64) -> u64 {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit only read and write the struct given.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 0;
        }
        if lim.rlim_cur < need {
            let raised = libc::rlimit { rlim_cur: need.min(lim.rlim_max), rlim_max: lim.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim = raised;
            }
        }
    }
    lim.rlim_cur
}

/// Makes the process non-dumpable and its core size 0 (see the module documentation).
/// Failures are logged: they leave the process as it was, and the server still serves.
pub fn no_core_dumps() {
    let zero = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: setrlimit reads the struct given; prctl(PR_SET_DUMPABLE) takes integers.
    let (core, dumpable) =
        unsafe { (libc::setrlimit(libc::RLIMIT_CORE, &zero), libc::prctl(libc::PR_SET_DUMPABLE, 0)) };
    if core != 0 || dumpable != 0 {
        tracing::warn!(error = %std::io::Error::last_os_error(), "could not forbid core dumps");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_that_fit_are_kept_and_the_process_keeps_its_limit() {
        // This test process's own limit: 10 calls always fit (the default soft limit is
        // 1024, and the hard one is higher).
        assert_eq!(fit_calls(10).unwrap(), 10);
        let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: reads into the struct given.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
        assert!(lim.rlim_cur >= RESERVE + PER_CALL * 10);
    }
}
