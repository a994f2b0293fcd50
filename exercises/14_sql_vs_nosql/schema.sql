-- Given: the tables of both halves of the kata (the tests create them for you).

-- The leaderboard. COLLATE "C" orders names byte by byte, as Redis orders members: with the
-- server's default collation (often en_US.UTF-8) 'bob' would sort before 'Carol', in Redis after.
CREATE TABLE scores (
    player text   COLLATE "C" PRIMARY KEY,
    score  bigint NOT NULL
);
-- Exactly the leaderboard's order: a top-K query reads the first K index entries and stops.
CREATE INDEX scores_ranking ON scores (score DESC, player);

-- The product catalogue, flexible: each product's attributes as one JSON document
-- ({"color": "red", "size": "M"}); most products have only a few of the possible attributes.
CREATE TABLE products (
    id         bigint PRIMARY KEY,
    name       text   NOT NULL,
    attributes jsonb  NOT NULL DEFAULT '{}'
);
-- jsonb_path_ops: a GIN index that answers containment (attributes @> '{"color":"red"}').
CREATE INDEX products_attributes ON products USING gin (attributes jsonb_path_ops);

-- The same attributes, normalized: one row per (product, attribute).
CREATE TABLE product_attributes (
    product_id bigint NOT NULL REFERENCES products (id),
    name       text   NOT NULL,
    value      text   NOT NULL,
    PRIMARY KEY (product_id, name)
);
CREATE INDEX product_attributes_by_value ON product_attributes (name, value);
