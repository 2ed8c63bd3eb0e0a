/** Strings an attacker or a messy dataset could send; the integration suite round-trips them too. */
export const HOSTILE_STRINGS = [
  "O'Brien",
  "'; DROP TABLE predictions; --",
  'back\\slash',
  "\\'",
  'trailing backslash \\',
  'new\nline\r\ttab',
  'nul\0byte',
  '"double" `back` quotes',
  'unicode: Beyoncé 東京 🎵',
  "''''",
  "\\\\'\\",
  '',
];
