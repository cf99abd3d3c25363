// One short message at a time at the bottom of the window ("Copied — clears in 30 s").
import type { Failure } from './ipc';

export interface ToastMessage {
  id: number;
  text: string;
  /** Set for failures: shown beside the message. */
  code?: string;
}

const state = $state<{ current: ToastMessage | null }>({ current: null });
let timer: ReturnType<typeof setTimeout> | undefined;
let next = 0;

function put(message: Omit<ToastMessage, 'id'>, ms: number) {
  clearTimeout(timer);
  state.current = { ...message, id: ++next };
  timer = setTimeout(() => (state.current = null), ms);
}

export const toast = {
  get current(): ToastMessage | null {
    return state.current;
  },
  show(text: string, ms = 4000) {
    put({ text }, ms);
  },
  failure(failure: Failure, ms = 8000) {
    put({ text: failure.message, code: failure.code }, ms);
  },
  dismiss() {
    clearTimeout(timer);
    state.current = null;
  },
};
