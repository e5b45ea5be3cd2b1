-- ivrpay schema, version 8: notices about invoices too (paid, cancelled, expired), not
-- only about transactions. A notice names its invoice, its transaction, or both
-- (invoice.paid names the payment); the event is a column so the delivery log need not
-- parse bodies. The table is rebuilt because SQLite cannot drop a NOT NULL constraint.

CREATE TABLE notifications_v8 (
    id                    TEXT PRIMARY KEY,
    merchant_id           TEXT NOT NULL REFERENCES merchants (id),
    event                 TEXT NOT NULL,
    invoice_id            TEXT REFERENCES invoices (id),
    transaction_reference TEXT REFERENCES transactions (reference),
    url                   TEXT NOT NULL,
    payload               TEXT NOT NULL,
    attempts              BIGINT NOT NULL DEFAULT 0,
    next_attempt_at       BIGINT NOT NULL,
    delivered_at          BIGINT,
    last_error            TEXT,
    created_at            BIGINT NOT NULL,
    CHECK (invoice_id IS NOT NULL OR transaction_reference IS NOT NULL)
);
INSERT INTO notifications_v8 (id, merchant_id, event, invoice_id, transaction_reference, url, payload, attempts, next_attempt_at, delivered_at, last_error, created_at)
    SELECT n.id, n.merchant_id,
           CASE WHEN n.payload LIKE '%"event":"transaction.updated"%' THEN 'transaction.updated' ELSE 'transaction.created' END,
           t.invoice_id, n.transaction_reference, n.url, n.payload, n.attempts, n.next_attempt_at, n.delivered_at, n.last_error, n.created_at
    FROM notifications n LEFT JOIN transactions t ON t.reference = n.transaction_reference;
DROP TABLE notifications;
ALTER TABLE notifications_v8 RENAME TO notifications;
CREATE INDEX notifications_due ON notifications (delivered_at, next_attempt_at);
CREATE INDEX notifications_by_transaction ON notifications (transaction_reference);
CREATE INDEX notifications_by_invoice ON notifications (invoice_id);
