import React, {useState} from 'react';
import useDocusaurusContext from '@docusaurus/useDocusaurusContext';
import styles from './ChatWidget.module.css';

// A placeholder for the textbook's chat assistant. The backend address comes from customFields.chatApiUrl
// (CHAT_API_URL at build time). Nothing is fetched while the site is built: a request is only sent from the
// reader's browser when they ask a question.
export default function ChatWidget() {
  const {siteConfig} = useDocusaurusContext();
  const chatApiUrl = String(siteConfig.customFields.chatApiUrl || '').replace(/\/+$/, '');
  const [open, setOpen] = useState(false);
  const [question, setQuestion] = useState('');
  const [answer, setAnswer] = useState('');

  async function ask(event) {
    event.preventDefault();
    if (!question.trim() || !chatApiUrl) {
      return;
    }
    setAnswer('Thinking…');
    try {
      const response = await fetch(`${chatApiUrl}/chat`, {
        method: 'POST',
        headers: {'Content-Type': 'application/json'},
        body: JSON.stringify({question}),
      });
      const data = await response.json();
      setAnswer(data.answer || JSON.stringify(data));
    } catch (error) {
      setAnswer(`The assistant is not reachable (${error.message}).`);
    }
  }

  return (
    <div className={styles.widget} data-chat-api-url={chatApiUrl}>
      {open && (
        <form className={styles.panel} onSubmit={ask}>
          <strong>Ask the textbook</strong>
          <input
            aria-label="Your question"
            value={question}
            onChange={(event) => setQuestion(event.target.value)}
            placeholder="What is the zero-moment point?"
          />
          <button type="submit">Ask</button>
          {answer && <p className={styles.answer}>{answer}</p>}
          <small>Assistant: {chatApiUrl || 'not configured'}</small>
        </form>
      )}
      <button type="button" className={styles.toggle} onClick={() => setOpen(!open)} aria-expanded={open}>
        {open ? 'Close' : 'Chat'}
      </button>
    </div>
  );
}
