/** Whether `m`, a node:cluster IPC message, is one of certmint's of this `type` (worker-metrics.ts, worker-nonces.ts). */
export const isMessage = <T extends { type: string }>(m: unknown, type: T['type']): m is T =>
  typeof m === 'object' && m !== null && (m as { type?: unknown }).type === type;
