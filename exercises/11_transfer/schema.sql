-- Given: the tables the transfer kata works on (the tests create them for you).
CREATE TABLE accounts (
    id            bigint PRIMARY KEY,
    owner         text   NOT NULL,
    -- No CHECK (balance_cents >= 0) here on purpose: the tests must see an overdraft happen
    -- to tell you about it. In production, add the constraint as a safety net as well.
    balance_cents bigint NOT NULL
);

CREATE TABLE ledger (
    id              bigserial   PRIMARY KEY,
    from_account    bigint      NOT NULL REFERENCES accounts (id),
    to_account      bigint      NOT NULL REFERENCES accounts (id),
    amount_cents    bigint      NOT NULL CHECK (amount_cents > 0),
    idempotency_key text        NOT NULL UNIQUE,
    created_at      timestamptz NOT NULL DEFAULT now()
);
