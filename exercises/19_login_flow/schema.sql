-- Given: the table the login kata reads (the tests create it and seed the users).
CREATE TABLE users (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Stored trimmed and lowercase: the login handler normalises what the user typed the same way.
    email         text NOT NULL UNIQUE,
    -- An Argon2id PHC string: $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>
    password_hash text NOT NULL
);
