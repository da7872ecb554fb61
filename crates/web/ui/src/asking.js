// A dialog that asks one question at a time: `open()` shows it and returns a promise of the
// answer, `finish(answer)` hides it and settles that promise (null: cancelled). Opening it again
// while a question is open cancels that question.
import { ref } from 'vue'

export function useAsking() {
  const visible = ref(false)
  let settle = null

  function open() {
    settle?.(null)
    visible.value = true
    return new Promise((resolve) => (settle = resolve))
  }

  function finish(answer) {
    const resolve = settle
    settle = null
    visible.value = false
    resolve?.(answer)
  }

  return { visible, open, finish }
}
