-- ivrpay schema, version 9: the operations journal. Every cash operation sent to the
-- payment platform (validate, cancel, refund) is kept with who asked, when, what, and
-- what the platform answered: applied, refused (with its response code), unreachable,
-- or unknown (the answer was lost). An applied one is written in the same database
-- transaction as the change it made.

CREATE TABLE cash_operation_log (
    id                    TEXT PRIMARY KEY,
    merchant_id           TEXT NOT NULL REFERENCES merchants (id),
    transaction_reference TEXT NOT NULL REFERENCES transactions (reference),
    operation             TEXT NOT NULL CHECK (operation IN ('validate', 'cancel', 'refund')),
    amount                BIGINT NOT NULL,
    currency              TEXT NOT NULL,
    actor                 TEXT NOT NULL,
    outcome               TEXT NOT NULL CHECK (outcome IN ('applied', 'refused', 'unavailable', 'unknown')),
    response_code         TEXT,
    detail                TEXT NOT NULL,
    at                    BIGINT NOT NULL
);
CREATE INDEX cash_operation_log_by_merchant ON cash_operation_log (merchant_id, at);
