// The designers' undo and redo: snapshots of the definition edited, taken when the edits pause
// (a word typed is one step, not one per key); a discrete edit first closes the typing before it,
// so it is undone alone.
import { computed, onBeforeUnmount, reactive, watch } from 'vue'

/**
 * Undo history of the ref `target`. `prepare(def)` completes a definition before it is shown
 * (lists it must have); `afterRestore()` runs after an undo or redo (e.g. to drop a selection
 * that no longer exists).
 */
export function useUndoHistory(target, { prepare = (def) => def, afterRestore = () => {} } = {}) {
  const history = reactive({ stack: [], pos: -1 })
  let restoring = false
  let timer = null

  /** Shows `def`; with `resetHistory` it is where the history starts (a load, not an edit). */
  function replace(def, resetHistory) {
    restoring = true
    target.value = prepare(def)
    if (resetHistory) {
      history.stack = [JSON.stringify(target.value)]
      history.pos = 0
    }
    Promise.resolve().then(() => (restoring = false))
  }

  function snapshot() {
    clearTimeout(timer)
    timer = null
    if (!target.value) return
    const now = JSON.stringify(target.value)
    if (now === history.stack[history.pos]) return
    history.stack.splice(history.pos + 1)
    history.stack.push(now)
    history.pos = history.stack.length - 1
  }

  watch(
    target,
    () => {
      if (restoring) return
      clearTimeout(timer)
      timer = setTimeout(snapshot, 300)
    },
    { deep: true },
  )
  onBeforeUnmount(() => clearTimeout(timer))

  /** Before a discrete edit or a save: what was typed until now becomes its own step. */
  function commitTyping() {
    if (timer) snapshot()
  }

  function move(by) {
    commitTyping()
    const to = history.pos + by
    if (to < 0 || to >= history.stack.length) return
    history.pos = to
    replace(JSON.parse(history.stack[to]), false)
    afterRestore()
  }

  return {
    replace,
    commitTyping,
    undo: () => move(-1),
    redo: () => move(1),
    canUndo: computed(() => history.pos > 0),
    canRedo: computed(() => history.pos < history.stack.length - 1),
  }
}
