import { html, type Html } from './html.js';

/** An instant as the pages show it: "2026-12-06 16:52:44 UTC", machine-readable in datetime. */
export function when(iso: string): Html {
  return html`<time datetime="${iso}">${iso.replace('T', ' ').replace(/(\.\d+)?Z$/, ' UTC')}</time>`;
}

/** A duration in seconds as a person reads an age: "40 s", "12 min", "5 h", "3 d". */
export function ageText(seconds: number): string {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 2 * 86_400) return `${Math.floor(seconds / 3600)} h`;
  return `${Math.floor(seconds / 86_400)} d`;
}
