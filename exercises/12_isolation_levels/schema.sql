-- Given: the on-call rota (the tests create it). The hospital's rule, which no constraint can
-- express: every shift keeps at least one doctor on call.
CREATE TABLE doctors (
    id       bigint  PRIMARY KEY,
    name     text    NOT NULL,
    shift_id bigint  NOT NULL,
    on_call  boolean NOT NULL
);
