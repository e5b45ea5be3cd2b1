//! Why dialplans were refused: each problem with its file and line, so operators fix
//! them all at once.

use std::path::PathBuf;

/// Why a dialplan file was refused.
#[derive(Debug, thiserror::Error)]
pub enum DialplanError {
    /// The file or directory could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory that could not be read.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// Syntax or a check failed at this line.
    #[error("{}:{line}: {message}", path.display())]
    Invalid {
        /// The dialplan file at fault.
        path: PathBuf,
        /// 1-based line of the offending key or table, so the operator can go straight to it.
        line: usize,
        /// What is wrong and, where possible, what is allowed instead.
        message: String,
    },
    /// A recording could not be read (on reload, the prompts are read again first).
    #[error("{}: {message}", path.display())]
    Prompt {
        /// The recording (or prompt directory) at fault.
        path: PathBuf,
        /// Why it cannot be played.
        message: String,
    },
    /// Several steps are wrong: each problem, one per line, in file order.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Several(Vec<DialplanError>),
}

impl DialplanError {
    /// The first problem's file and line (0 when the file could not be read).
    pub fn location(&self) -> (PathBuf, usize) {
        match self {
            DialplanError::Io { path, .. } => (path.clone(), 0),
            DialplanError::Invalid { path, line, .. } => (path.clone(), *line),
            DialplanError::Prompt { path, .. } => (path.clone(), 0),
            DialplanError::Several(v) => v.first().map(Self::location).unwrap_or_default(),
        }
    }

    pub(super) fn line(&self) -> usize {
        self.location().1
    }

    /// Each single problem, owned (a `Several` opened up).
    pub fn into_problems(self) -> Vec<DialplanError> {
        match self {
            DialplanError::Several(v) => v.into_iter().flat_map(DialplanError::into_problems).collect(),
            other => vec![other],
        }
    }

    /// Each single problem, in the order reported (a `Several` opened up), so a page can
    /// show one per line with its own file and line.
    pub fn problems(&self) -> Vec<&DialplanError> {
        match self {
            DialplanError::Several(v) => v.iter().flat_map(DialplanError::problems).collect(),
            other => vec![other],
        }
    }

    /// What is wrong, without the file and line (which [`location`](Self::location)
    /// gives), for display beside a link to the line.
    pub fn message(&self) -> String {
        match self {
            DialplanError::Io { source, .. } => source.to_string(),
            DialplanError::Invalid { message, .. } | DialplanError::Prompt { message, .. } => message.clone(),
            DialplanError::Several(v) => v.iter().map(DialplanError::message).collect::<Vec<_>>().join("\n"),
        }
    }
}
