-- ivrpay schema, version 6: cash operations go through the payment platform, and
-- duplicates are transactions of their own.
--
-- operation_claim / operation_claimed_at: a cash operation first claims the transaction
-- (conditionally on the status and amounts it was computed from), then asks the
-- platform, then records the answer and clears the claim in one database transaction.
-- Two operators (or two nodes) therefore never send two operations computed from the
-- same state; a claim left by a crash lapses after a lease (see store::cash).
--
-- duplicated_from: the transaction whose card a duplicate reused (Sips
-- fromTransactionReference). A duplicate is a new charge of the same customer and is
-- the payment of an invoice of its own (see payments::duplicate).

ALTER TABLE transactions ADD COLUMN operation_claim TEXT;
ALTER TABLE transactions ADD COLUMN operation_claimed_at BIGINT;
ALTER TABLE transactions ADD COLUMN duplicated_from TEXT REFERENCES transactions (reference);
CREATE INDEX transactions_duplicated_from ON transactions (duplicated_from);
