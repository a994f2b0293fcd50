-- Given: the tables the cache kata reads and writes (the tests create them and seed rows).
CREATE TABLE categories (
    name text PRIMARY KEY
);

CREATE TABLE products (
    id          bigint PRIMARY KEY,
    name        text   NOT NULL,
    -- Checked at COMMIT, not at the UPDATE: a transaction can fail at its very last step.
    category    text   NOT NULL REFERENCES categories (name) DEFERRABLE INITIALLY DEFERRED,
    price_cents bigint NOT NULL CHECK (price_cents >= 0)
);

CREATE TABLE promotions (
    product_id bigint PRIMARY KEY REFERENCES products (id),
    label      text   NOT NULL
);
