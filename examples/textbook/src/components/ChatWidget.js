import React, {useEffect, useId, useRef, useState} from 'react';
import useDocusaurusContext from '@docusaurus/useDocusaurusContext';
import styles from './ChatWidget.module.css';

// The textbook's chat assistant: a button at the bottom right of every page opens a small form; the question is
// sent to the chat service (POST <chatApiUrl>/api/chat, chatApiUrl = customFields.chatApiUrl, CHAT_API_URL at build
// time) and its answer is shown with links to the pages it came from. Nothing is fetched while the site is built:
// a request is only sent from the reader's browser when they ask a question.
//
// Test hooks: data-chat-ready="true" on the widget once hydrated (the buttons work from then on); data-testid
// chat-toggle, chat-panel, chat-form, chat-question, chat-submit, chat-close, chat-status (the aria-live region;
// data-status: idle | loading | answered | error), chat-answer (data-found: true | false), chat-sources (a list
// of <a data-testid="chat-source">) and chat-error (data-error: the kind of failure, e.g. invalid, unavailable,
// network, timeout).

export const TIMEOUT_MS = 20000;
const NO_ANSWER = 'No answer found in the textbook. Try asking with words from the chapters.';

const MESSAGES = {
  empty: 'Please type a question first.',
  invalid: 'The assistant could not read that question. Please rephrase it and try again.',
  unavailable: 'The assistant is temporarily unavailable. Please try again in a moment.',
  busy: 'The assistant is receiving too many questions right now. Please wait a moment and try again.',
  server: 'The assistant ran into a problem and could not answer. Please try again later.',
  http: 'The assistant could not answer this question. Please try again later.',
  timeout: 'The assistant took too long to answer. Please try again.',
  network: 'Cannot reach the assistant. Check your internet connection and try again.',
  malformed: 'The assistant sent a reply that could not be read. Please try again later.',
  unconfigured: 'The assistant is not configured for this site.',
};

// The 422 body's detail: FastAPI's [{type, loc, msg, ctx}] list (or, from a proxy, anything else). Only what we
// recognise is turned into a sentence; the raw detail is never shown.
function validationMessage(detail) {
  const items = Array.isArray(detail) ? detail : [];
  for (const item of items) {
    const type = String((item && item.type) || '');
    const msg = String((item && item.msg) || '');
    const limit = (item && item.ctx && item.ctx.max_length) || (msg.match(/at most (\d+) characters?/) || [])[1];
    if (type === 'string_too_long' || /too long|at most/i.test(msg)) {
      return limit
        ? `Your question is too long: please keep it to ${limit} characters or fewer.`
        : 'Your question is too long: please shorten it and try again.';
    }
    if (type === 'string_too_short' || type === 'missing' || /blank|empty|at least/i.test(msg)) {
      return MESSAGES.empty;
    }
  }
  return MESSAGES.invalid;
}

async function readJson(response) {
  try {
    return await response.json();
  } catch (error) {
    return undefined;
  }
}

async function errorFor(response) {
  const status = response.status;
  if (status === 422 || status === 400) {
    const body = await readJson(response);
    return {kind: 'invalid', message: validationMessage(body && body.detail), httpStatus: status};
  }
  if (status === 503) {
    return {kind: 'unavailable', message: MESSAGES.unavailable, httpStatus: status};
  }
  if (status === 429) {
    return {kind: 'busy', message: MESSAGES.busy, httpStatus: status};
  }
  if (status >= 500) {
    return {kind: 'server', message: `${MESSAGES.server} (HTTP ${status})`, httpStatus: status};
  }
  return {kind: 'http', message: `${MESSAGES.http} (HTTP ${status})`, httpStatus: status};
}

// The pages an answer came from: page_title (else title, else source), linked to url, once per url, in the order
// the service returned them.
export function sourcesOf(passages) {
  const seen = new Set();
  const sources = [];
  for (const passage of Array.isArray(passages) ? passages : []) {
    if (!passage || typeof passage !== 'object') {
      continue;
    }
    const url = typeof passage.url === 'string' && passage.url ? passage.url : null;
    const label = String(passage.page_title || passage.title || passage.source || url || '').trim();
    const key = url || label;
    if (!key || seen.has(key)) {
      continue;
    }
    seen.add(key);
    sources.push({url, label: label || url});
  }
  return sources;
}

// The answer is a passage of the textbook's Markdown. What a reader would not see on the page goes: bold/italic
// markers, and the source's line breaks inside a paragraph (soft breaks); paragraphs, list items and table rows
// stay on lines of their own.
const ITEM = /^\s*([-*+]|\d+[.)])\s/;
const VERBATIM = /^\s*(```|~~~|\||>|\s{4})/m; // code, tables, quotes: kept as written

function plainText(text) {
  return String(text || '')
    .replace(/\r\n?/g, '\n')
    .split(/\n{2,}/)
    .map((paragraph) => {
      if (VERBATIM.test(paragraph)) {
        return paragraph;
      }
      const lines = [];
      for (const line of paragraph.split('\n')) {
        if (lines.length && !ITEM.test(line)) {
          lines[lines.length - 1] = `${lines[lines.length - 1].trimEnd()} ${line.trim()}`;
        } else {
          lines.push(line);
        }
      }
      return lines.join('\n');
    })
    .join('\n\n')
    .replace(/\*\*(.+?)\*\*/g, '$1')
    .replace(/__(.+?)__/g, '$1')
    .trim();
}

export default function ChatWidget() {
  const {siteConfig} = useDocusaurusContext();
  const chatApiUrl = String(siteConfig.customFields.chatApiUrl || '').trim().replace(/\/+$/, '');
  const id = useId().replace(/:/g, '');
  const panelId = `chat-panel-${id}`;
  const fieldId = `chat-question-${id}`;
  const headingId = `chat-heading-${id}`;
  const [open, setOpen] = useState(false);
  const [question, setQuestion] = useState('');
  const [state, setState] = useState({status: 'idle'});
  const [ready, setReady] = useState(false); // true once hydrated: the buttons work from then on
  const toggleRef = useRef(null);
  const fieldRef = useRef(null);
  const requestRef = useRef(null);
  const loading = state.status === 'loading';

  useEffect(() => setReady(true), []);

  useEffect(() => {
    if (open && fieldRef.current) {
      fieldRef.current.focus();
    }
  }, [open]);

  // A request still in flight when the page goes away is cancelled.
  useEffect(() => () => requestRef.current && requestRef.current.abort(), []);

  function close() {
    setOpen(false);
    if (toggleRef.current) {
      toggleRef.current.focus();
    }
  }

  function onKeyDown(event) {
    if (event.key === 'Escape' && open) {
      event.preventDefault();
      event.stopPropagation();
      close();
    }
  }

  async function ask(event) {
    event.preventDefault();
    if (loading) {
      return;
    }
    const text = question.trim();
    if (!text) {
      setState({status: 'error', kind: 'empty', message: MESSAGES.empty});
      return;
    }
    if (!chatApiUrl) {
      setState({status: 'error', kind: 'unconfigured', message: MESSAGES.unconfigured});
      return;
    }
    const controller = new AbortController();
    requestRef.current = controller;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, TIMEOUT_MS);
    setState({status: 'loading'});
    let next;
    try {
      const response = await fetch(`${chatApiUrl}/api/chat`, {
        method: 'POST',
        headers: {'Content-Type': 'application/json', Accept: 'application/json'},
        body: JSON.stringify({question: text}),
        signal: controller.signal,
        credentials: 'omit',
      });
      if (!response.ok) {
        next = {...(await errorFor(response)), status: 'error'};
      } else {
        const body = await readJson(response);
        if (!body || typeof body !== 'object' || typeof body.answer !== 'string') {
          next = {status: 'error', kind: 'malformed', message: MESSAGES.malformed};
        } else {
          const sources = sourcesOf(body.passages);
          const found = Array.isArray(body.passages) && body.passages.length > 0;
          next = {status: 'answered', found, answer: found ? plainText(body.answer) : NO_ANSWER, sources};
        }
      }
    } catch (error) {
      if (controller.signal.aborted && !timedOut) {
        return; // unmounted: nobody is waiting for this answer
      }
      // fetch rejects with a TypeError for DNS, TLS, connection and CORS failures alike: the browser does not tell
      // the page which one it was (the console does).
      next = timedOut
        ? {status: 'error', kind: 'timeout', message: MESSAGES.timeout}
        : {status: 'error', kind: 'network', message: MESSAGES.network};
    } finally {
      clearTimeout(timer);
      if (requestRef.current === controller) {
        requestRef.current = null;
      }
    }
    setState(next);
  }

  return (
    <div
      className={styles.widget}
      data-chat-api-url={chatApiUrl}
      data-chat-ready={String(ready)}
      onKeyDown={onKeyDown}>
      <section
        id={panelId}
        className={styles.panel}
        aria-labelledby={headingId}
        hidden={!open}
        data-testid="chat-panel">
        <div className={styles.header}>
          <h2 id={headingId} className={styles.heading}>
            Ask the textbook
          </h2>
          <button
            type="button"
            className={styles.close}
            onClick={close}
            aria-label="Close the assistant"
            data-testid="chat-close">
            ×
          </button>
        </div>
        <form className={styles.form} onSubmit={ask} data-testid="chat-form" noValidate>
          <label htmlFor={fieldId} className={styles.label}>
            Your question
          </label>
          <div className={styles.row}>
            <input
              id={fieldId}
              ref={fieldRef}
              className={styles.input}
              type="text"
              name="question"
              autoComplete="off"
              value={question}
              onChange={(event) => setQuestion(event.target.value)}
              placeholder="e.g. What is the zero-moment point?"
              data-testid="chat-question"
            />
            <button
              type="submit"
              className={`button button--primary ${styles.submit}`}
              disabled={loading}
              aria-busy={loading}
              data-testid="chat-submit">
              {loading ? 'Asking…' : 'Ask'}
            </button>
          </div>
        </form>
        <div
          className={styles.output}
          aria-live="polite"
          data-testid="chat-status"
          data-status={state.status}>
          {loading && <p className={styles.pending}>Searching the textbook…</p>}
          {state.status === 'answered' && (
            <>
              <p
                className={state.found ? styles.answer : styles.noAnswer}
                data-testid="chat-answer"
                data-found={String(state.found)}>
                {state.answer}
              </p>
              {state.sources.length > 0 && (
                <div className={styles.sources}>
                  <h3 className={styles.sourcesHeading}>Sources</h3>
                  <ul className={styles.sourceList} data-testid="chat-sources">
                    {state.sources.map((source) => (
                      <li key={source.url || source.label}>
                        {source.url ? (
                          <a href={source.url} data-testid="chat-source">
                            {source.label}
                          </a>
                        ) : (
                          <span data-testid="chat-source">{source.label}</span>
                        )}
                      </li>
                    ))}
                  </ul>
                </div>
              )}
            </>
          )}
          {state.status === 'error' && (
            <p className={styles.error} data-testid="chat-error" data-error={state.kind}>
              {state.message}
            </p>
          )}
        </div>
      </section>
      <button
        type="button"
        ref={toggleRef}
        className={styles.toggle}
        onClick={() => (open ? close() : setOpen(true))}
        aria-expanded={open}
        aria-controls={panelId}
        data-testid="chat-toggle">
        {open ? 'Close chat' : 'Ask the textbook'}
      </button>
    </div>
  );
}
