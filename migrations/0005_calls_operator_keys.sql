-- ivrpay schema, version 5: call records and operator API keys.
-- A call record is written when a call is admitted and completed when it ends, so a
-- crash leaves a record without an end rather than no record. It keeps who called
-- which service, when, the steps of the flow it went through and its outcome; never a
-- digit the caller typed.

CREATE TABLE calls (
    id                    TEXT PRIMARY KEY,
    call_id               TEXT NOT NULL,
    caller                TEXT NOT NULL,
    service               TEXT NOT NULL,
    flow                  TEXT,
    flow_version          TEXT,
    language              TEXT,
    started_at            BIGINT NOT NULL,
    answered_at           BIGINT,
    ended_at              BIGINT,
    end_reason            TEXT,
    steps                 TEXT NOT NULL DEFAULT '',
    outcome               TEXT CHECK (outcome IN ('paid', 'refused', 'abandoned', 'invalid_invoice', 'platform_error', 'completed')),
    invoice_id            TEXT,
    transaction_reference TEXT
);
CREATE INDEX calls_by_start ON calls (started_at);
CREATE INDEX calls_by_outcome ON calls (outcome, started_at);
CREATE INDEX calls_by_call_id ON calls (call_id);

-- Keys for the operator API (dialplan reload and the like); only their SHA-256 is kept.
CREATE TABLE operator_keys (
    id         TEXT PRIMARY KEY,
    key_hash   TEXT NOT NULL UNIQUE,
    prefix     TEXT NOT NULL,
    label      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
