-- Readers rate answers; the dashboard shows the share of helpful ones.
CREATE TABLE feedback (
    question_id bigint      NOT NULL REFERENCES questions (id) ON DELETE CASCADE,
    helpful     boolean     NOT NULL,
    comment     text        CHECK (length(comment) <= 2000),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (question_id, created_at)
);
