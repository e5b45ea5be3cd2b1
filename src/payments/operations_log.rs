//! What the operations journal keeps of each cash operation sent to the platform: who
//! asked, what, and what the platform answered. A merchant's accountant reads it to
//! reconcile; support reads it to answer "did my refund go through?".

/// What the platform answered a cash operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpOutcome {
    /// Applied: the transaction changed.
    Applied,
    /// Refused (its response code says why); nothing changed.
    Refused,
    /// The platform could not be reached, or showed the operation was not applied.
    Unavailable,
    /// The answer was lost and the platform could not say: the transaction stays
    /// locked until someone checks it.
    Unknown,
}

impl OpOutcome {
    /// Stored and exported form.
    pub fn as_str(self) -> &'static str {
        match self {
            OpOutcome::Applied => "applied",
            OpOutcome::Refused => "refused",
            OpOutcome::Unavailable => "unavailable",
            OpOutcome::Unknown => "unknown",
        }
    }

    /// The stored form read back.
    pub fn parse(s: &str) -> Option<OpOutcome> {
        [OpOutcome::Applied, OpOutcome::Refused, OpOutcome::Unavailable, OpOutcome::Unknown]
            .into_iter()
            .find(|o| o.as_str() == s)
    }
}

/// The platform's answer to one operation, as the journal records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpAnswer {
    /// What came of it.
    pub outcome: OpOutcome,
    /// The platform's `responseCode`, when it answered.
    pub response_code: Option<String>,
    /// For a person (also the history's detail when applied).
    pub detail: String,
}

/// One line of the operations journal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpLogEntry {
    /// When it was answered (UTC ms).
    pub at: i64,
    /// The transaction it was on.
    pub transaction_reference: String,
    /// `validate`, `cancel` or `refund`.
    pub operation: String,
    /// What it moved or would have moved, in minor units.
    pub amount: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// Who asked (`api:<merchant>`, `extranet:<e-mail>`).
    pub actor: String,
    /// What the platform answered.
    pub answer: OpAnswer,
}
