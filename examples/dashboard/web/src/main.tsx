import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import App from './App';
import { loginFromUrl } from './lib/api';
import './styles.css';

const root = document.getElementById('root');
if (!root) throw new Error('missing #root');
// A ?token= link is exchanged for the session cookie before anything
// connects, and leaves the URL.
void loginFromUrl().then(
  (err) => render(err),
  (e: unknown) => render(`login failed: ${e instanceof Error ? e.message : String(e)}`),
);

function render(loginError: string | null) {
  createRoot(root as HTMLElement).render(
    <StrictMode>
      <App loginError={loginError} />
    </StrictMode>,
  );
}
