// What the UI adds to the flows the server describes: which actions ask for a comment or a
// user before they are taken, names of actions the log mentions, and the number of the
// signed-in user's pending approval tasks shown in the navigation.
import { ref } from 'vue'
import { api } from './api'
import { label, t } from './i18n'

// Approval decisions and recalls are worth a word of explanation; it stays optional.
const COMMENTED = new Set(['approve', 'reject', 'recall'])
// These hand the approval to someone: the dialog asks for whom.
const NAMING_A_USER = new Set(['transfer', 'add_approver'])
// Actions the log names that the UI has words for: the approval actions every flow has (the
// app view lists only the flow's own transitions) and the entries the flow engine writes
// itself (the start, an approval passed or turned down, a step without approvers skipped).
const KNOWN_ACTIONS = ['approve', 'reject', 'recall', 'transfer', 'add_approver', 'start', 'approved', 'rejected', 'auto_pass']

/** What the dialog before an action asks for: `'user'`, `'comment'`, or null (none needed). */
export function askFor(action) {
  if (NAMING_A_USER.has(action)) return 'user'
  if (COMMENTED.has(action)) return 'comment'
  return null
}

/**
 * The name of an action in the log, or null when the UI has none (it then shows the move).
 * `flowDef` is the form's `flow` of the app view (`{field, states, actions}`).
 */
export function actionName(action, flowDef) {
  if (KNOWN_ACTIONS.includes(action)) return t(`flow.action.${action}`)
  const known = flowDef?.actions?.find((a) => a.action === action)
  return known ? label(known.label, action) : null
}

/** The label of a state of the flow (`flowDef` as in `actionName`), or its id when it has none. */
export function stateName(state, flowDef) {
  const known = flowDef?.states?.find((s) => s.id === state)
  return known ? label(known.label, state) : state
}

/** How the seats of an approval step decide, in words. */
export function modeName(mode) {
  if (mode && typeof mode === 'object' && 'm_of_n' in mode) return t('flow.mode.m_of_n', { n: mode.m_of_n })
  return typeof mode === 'string' ? t(`flow.mode.${mode}`) : ''
}

/** How many approval tasks wait for the signed-in user (the navigation's badge). */
export const pendingTasks = ref(0)

export async function refreshPendingTasks() {
  try {
    pendingTasks.value = (await api.tasks('pending')).items.length
  } catch {
    // Only a badge: the tasks page reports what failed.
  }
}
