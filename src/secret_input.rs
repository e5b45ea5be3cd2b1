//! Reading a password for the CLI without it appearing on screen or in the shell's
//! history: typed at a terminal with echo off (and asked twice), or read as the first
//! line of standard input when a script pipes it in. Never from an argument, which
//! `ps` and history would show.

use std::io::{BufRead, IsTerminal, Write};

/// Why no password was read.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// Reading the terminal or standard input failed.
    #[error("cannot read the password: {0}")]
    Io(#[from] std::io::Error),
    /// The two entries differ.
    #[error("the two passwords differ")]
    Mismatch,
    /// Nothing was given.
    #[error("no password given on standard input")]
    Empty,
}

/// Turns terminal echo off until dropped.
#[cfg(unix)]
struct NoEcho(Option<libc::termios>);

#[cfg(unix)]
impl NoEcho {
    fn new() -> NoEcho {
        // SAFETY: tcgetattr/tcsetattr on stdin with a zeroed, then filled, termios.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(libc::STDIN_FILENO, &mut t) != 0 {
                return NoEcho(None);
            }
            let saved = t;
            t.c_lflag &= !libc::ECHO;
            t.c_lflag |= libc::ECHONL;
            if libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &t) != 0 {
                return NoEcho(None);
            }
            NoEcho(Some(saved))
        }
    }
}

#[cfg(unix)]
impl Drop for NoEcho {
    fn drop(&mut self) {
        if let Some(saved) = self.0 {
            // SAFETY: restores the attributes read in `new`.
            unsafe {
                libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &saved);
            }
        }
    }
}

fn read_line() -> Result<String, SecretError> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// Reads a new password: prompted twice at a terminal, else one line of stdin.
pub fn read_new_password(prompt: &str) -> Result<String, SecretError> {
    if !std::io::stdin().is_terminal() {
        let p = read_line()?;
        return if p.is_empty() { Err(SecretError::Empty) } else { Ok(p) };
    }
    #[cfg(unix)]
    let _guard = NoEcho::new();
    eprint!("{prompt}: ");
    std::io::stderr().flush()?;
    let first = read_line()?;
    eprint!("{prompt} (again): ");
    std::io::stderr().flush()?;
    let second = read_line()?;
    if first != second {
        return Err(SecretError::Mismatch);
    }
    if first.is_empty() {
        return Err(SecretError::Empty);
    }
    Ok(first)
}
