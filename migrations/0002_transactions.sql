-- ivrpay schema, version 2: card transactions and their append-only history.
-- A transaction is written PENDING (with its idempotency key) before the authorization
-- is sent, and completed in the same database transaction that marks the invoice paid.

CREATE TABLE transactions (
    reference              TEXT PRIMARY KEY,
    merchant_id            TEXT NOT NULL REFERENCES merchants (id),
    invoice_id             TEXT NOT NULL REFERENCES invoices (id),
    idempotency_key        TEXT NOT NULL UNIQUE,
    amount                 BIGINT NOT NULL CHECK (amount > 0),
    -- What is (or will be) captured: the authorized amount less cancellations, or the
    -- validated amount; refunds never exceed it.
    current_amount         BIGINT NOT NULL CHECK (current_amount >= 0),
    refunded_amount        BIGINT NOT NULL DEFAULT 0 CHECK (refunded_amount >= 0),
    currency               TEXT NOT NULL,
    masked_pan             TEXT NOT NULL,
    brand                  TEXT NOT NULL,
    expiry_month           TEXT NOT NULL,
    channel                TEXT NOT NULL,
    order_channel          TEXT NOT NULL,
    response_code          TEXT,
    acquirer_response_code TEXT,
    authorisation_id       TEXT,
    guarantee_indicator    TEXT NOT NULL,
    capture_mode           TEXT NOT NULL,
    capture_day            BIGINT NOT NULL,
    -- When TO_CAPTURE becomes CAPTURED, or TO_VALIDATE expires (UTC ms).
    capture_at             BIGINT NOT NULL,
    status                 TEXT NOT NULL CHECK (status IN ('PENDING', 'TO_CAPTURE', 'TO_VALIDATE', 'CAPTURED', 'CANCELLED', 'REFUSED', 'EXPIRED', 'CREDITED')),
    caller                 TEXT,
    call_id                TEXT,
    created_at             BIGINT NOT NULL,
    updated_at             BIGINT NOT NULL
);

-- At most one live payment per invoice: a retried or duplicated request cannot charge
-- an invoice twice even if it carries another idempotency key.
CREATE UNIQUE INDEX transactions_one_live_per_invoice ON transactions (invoice_id)
    WHERE status IN ('PENDING', 'TO_CAPTURE', 'TO_VALIDATE', 'CAPTURED');
CREATE INDEX transactions_by_merchant ON transactions (merchant_id, created_at);
CREATE INDEX transactions_pending ON transactions (status, created_at);

CREATE TABLE transaction_history (
    id                    TEXT PRIMARY KEY,
    transaction_reference TEXT NOT NULL REFERENCES transactions (reference),
    at                    BIGINT NOT NULL,
    from_status           TEXT,
    to_status             TEXT NOT NULL,
    amount                BIGINT,
    actor                 TEXT NOT NULL,
    detail                TEXT NOT NULL
);
CREATE INDEX transaction_history_by_tx ON transaction_history (transaction_reference, at);
