import React from 'react';
import ChatWidget from '../components/ChatWidget';

// Wraps every page: the site plus the chat assistant (src/components/ChatWidget.js), which asks the chat service.
export default function Root({children}) {
  return (
    <>
      {children}
      <ChatWidget />
    </>
  );
}
