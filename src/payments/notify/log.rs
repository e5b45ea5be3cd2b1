//! What a merchant (and its support) sees of one notice: its attempts, where it stands
//! and the last error, so "we never got it" can be answered from the transaction page.

/// Where one notice stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryState {
    /// Written, not tried yet.
    Queued,
    /// Tried and not acknowledged: tried again at `next_attempt_at`.
    Retrying,
    /// Acknowledged by a 2xx answer.
    Delivered,
}

impl DeliveryState {
    /// The API's and the pages' word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Queued => "queued",
            DeliveryState::Retrying => "retrying",
            DeliveryState::Delivered => "delivered",
        }
    }
}

/// One notice of a transaction, as its delivery log shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryLog {
    /// The notice's id (the merchant's key to discard a repeat).
    pub id: String,
    /// The event it reports (`transaction.created`, `transaction.updated`).
    pub event: String,
    /// Where it was sent.
    pub url: String,
    /// When it was written (UTC ms).
    pub created_at: i64,
    /// POSTs made so far.
    pub attempts: i64,
    /// When it was acknowledged (UTC ms).
    pub delivered_at: Option<i64>,
    /// When it is tried next, if not delivered (UTC ms; during a send, the claim's end).
    pub next_attempt_at: i64,
    /// Why the last attempt failed (an HTTP status, a time-out, a refused connection).
    pub last_error: Option<String>,
}

impl DeliveryLog {
    /// Where the notice stands.
    pub fn state(&self) -> DeliveryState {
        match (self.delivered_at, self.attempts) {
            (Some(_), _) => DeliveryState::Delivered,
            (None, 0) => DeliveryState::Queued,
            (None, _) => DeliveryState::Retrying,
        }
    }
}
