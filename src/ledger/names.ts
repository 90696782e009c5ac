/** "www.example.internal" → "internal.example.www": names sort by their parent domains. */
export function reverseLabels(name: string): string {
  return name.toLowerCase().split('.').reverse().join('.');
}
