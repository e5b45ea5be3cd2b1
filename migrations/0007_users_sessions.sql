-- ivrpay schema, version 7: extranet users, their sessions, and login throttling.
-- Passwords are stored as argon2id PHC strings; a session token is never stored, only
-- its SHA-256, so a copy of the database opens no session. Login failures are counted
-- in the database so every node behind a load balancer applies the same back-off.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'merchant')),
    merchant_id   TEXT REFERENCES merchants (id),
    language      TEXT,
    disabled_at   BIGINT,
    created_at    BIGINT NOT NULL,
    -- A merchant user belongs to exactly one merchant; other roles to none.
    CHECK ((role = 'merchant' AND merchant_id IS NOT NULL) OR (role <> 'merchant' AND merchant_id IS NULL))
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- One row per throttled key: 'account:<email>' or 'ip:<address>'.
CREATE TABLE login_failures (
    throttle_key    TEXT PRIMARY KEY,
    failures        BIGINT NOT NULL,
    last_failure_at BIGINT NOT NULL,
    locked_until    BIGINT NOT NULL
);
