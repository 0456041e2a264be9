-- The questions readers ask the chat service, with the passages the answer was built from.
CREATE TABLE questions (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    asked_at    timestamptz NOT NULL DEFAULT now(),
    question    text        NOT NULL CHECK (length(question) BETWEEN 1 AND 4000),
    answer      text,
    passage_ids text[]      NOT NULL DEFAULT '{}',
    latency_ms  integer     CHECK (latency_ms >= 0)
);

CREATE INDEX questions_asked_at_idx ON questions (asked_at DESC);
