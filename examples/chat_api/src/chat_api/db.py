"""PostgreSQL access: one short-lived psycopg connection per call (the service's traffic is light and this keeps
no state that can go stale across a database failover)."""
import psycopg


def connect(url, timeout):
    return psycopg.connect(url, connect_timeout=max(1, int(round(timeout))), autocommit=True,
                           application_name="textbook-chat-api")


def ping(url, timeout):
    with connect(url, timeout) as conn:
        conn.execute("SELECT 1").fetchone()


def record_question(url, timeout, question, answer, passage_ids, latency_ms):
    """Insert one row into `questions`; returns its id."""
    with connect(url, timeout) as conn:
        row = conn.execute(
            "INSERT INTO questions (question, answer, passage_ids, latency_ms) VALUES (%s, %s, %s, %s) RETURNING id",
            (question, answer, list(passage_ids), latency_ms)).fetchone()
    return row[0]
