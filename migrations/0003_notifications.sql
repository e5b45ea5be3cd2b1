-- ivrpay schema, version 3: the notification outbox. A row is written in the same
-- database transaction as the status change it reports, so no notice is lost across a
-- crash or restart; a worker delivers them with back-off until acknowledged.

CREATE TABLE notifications (
    id                    TEXT PRIMARY KEY,
    merchant_id           TEXT NOT NULL REFERENCES merchants (id),
    transaction_reference TEXT NOT NULL REFERENCES transactions (reference),
    url                   TEXT NOT NULL,
    payload               TEXT NOT NULL,
    attempts              BIGINT NOT NULL DEFAULT 0,
    next_attempt_at       BIGINT NOT NULL,
    delivered_at          BIGINT,
    last_error            TEXT,
    created_at            BIGINT NOT NULL
);
CREATE INDEX notifications_due ON notifications (delivered_at, next_attempt_at);
