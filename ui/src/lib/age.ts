import type { Entry } from './bindings/Entry';

const DAY = 86_400;

/** Whole days since the entry's password was set (rotation, else creation). */
export function ageDays(entry: Entry, nowSeconds = Date.now() / 1000): number {
  const setAt = entry.rotated ?? entry.created;
  return Math.max(0, Math.floor((nowSeconds - setAt) / DAY));
}

/** The badge text: "today", "12 d", "1.5 y". */
export function ageLabel(days: number): string {
  if (days < 1) return 'today';
  if (days < 730) return `${days} d`;
  return `${(days / 365).toFixed(1)} y`;
}
