-- ivrpay schema, version 4: the phone line looks a payment code up whatever the
-- invoice's status (to say "already paid", "cancelled" or "expired" rather than
-- "unknown"); the partial unique index only covers payable invoices.

CREATE INDEX invoices_by_code ON invoices (payment_code, created_at);
