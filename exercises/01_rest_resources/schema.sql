-- Given: the table the books API stores its resources in (the tests create it for you).
CREATE TABLE books (
    id     bigserial PRIMARY KEY,
    title  text      NOT NULL,
    author text      NOT NULL,
    year   integer   NOT NULL
);
