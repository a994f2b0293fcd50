-- Given: the tables the indexes kata works on (the tests create them and fill them with
-- 10 000 customers and 100 000 orders). Only the primary keys are indexed so far.
CREATE TABLE customers (
    id    bigint PRIMARY KEY,
    -- Stored as the customer typed it ("User42@Example.com"); signing in ignores case.
    email text   NOT NULL,
    name  text   NOT NULL
);

CREATE TABLE orders (
    id          bigint      PRIMARY KEY,
    customer_id bigint      NOT NULL REFERENCES customers (id),
    -- 'pending' (about 1% of the rows: waiting for payment), 'paid', 'shipped' or 'cancelled'.
    status      text        NOT NULL,
    total_cents bigint      NOT NULL,
    created_at  timestamptz NOT NULL
);
