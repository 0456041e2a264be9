-- Find earlier questions by similar wording (pg_trgm is a trusted extension, created by the data role).
CREATE INDEX questions_question_trgm_idx ON questions USING gin (question gin_trgm_ops);
