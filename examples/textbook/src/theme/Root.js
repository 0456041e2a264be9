import React from 'react';
import ChatWidget from '../components/ChatWidget';

// Wraps every page: the site plus the chat assistant placeholder.
export default function Root({children}) {
  return (
    <>
      {children}
      <ChatWidget />
    </>
  );
}
