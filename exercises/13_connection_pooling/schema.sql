-- Given: the orders the payment requests work on (the tests create the table for you).
CREATE TABLE orders (
    id              bigint PRIMARY KEY,
    amount_cents    bigint NOT NULL CHECK (amount_cents > 0),
    status          text   NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'paid')),
    payment_ref     text,
    -- Which server connection (backend process) wrote the payment. The trigger below fills it
    -- in so the tests can see whether your pool reuses its connections: your code never sets it.
    paid_by_backend integer
);

CREATE FUNCTION orders_record_backend() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.paid_by_backend := pg_backend_pid();
    RETURN NEW;
END $$;

CREATE TRIGGER orders_record_backend BEFORE UPDATE ON orders
    FOR EACH ROW EXECUTE FUNCTION orders_record_backend();
