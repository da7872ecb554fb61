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
// server names them only while they are available) and the entries the flow engine writes
// itself (the start, an approval passed or turned down, a step without approvers skipped).
const KNOWN_ACTIONS = ['approve', 'reject', 'recall', 'transfer', 'add_approver', 'start', 'approved', 'rejected', 'auto_pass']
// Labels of a flow's transitions as seen while they were available (`${flow}/${action}`): the
// flow definition is not part of the app view, and the log names actions by id.
const seenLabels = new Map()

/** What the dialog before an action asks for: `'user'`, `'comment'`, or null (none needed). */
export function askFor(action) {
  if (NAMING_A_USER.has(action)) return 'user'
  if (COMMENTED.has(action)) return 'comment'
  return null
}

/** Notes the labels of the actions a flow view offers, for naming them in logs later. */
export function rememberActions(flow) {
  for (const a of flow?.actions ?? []) seenLabels.set(`${flow.flow}/${a.action}`, a.label)
  return flow
}

/** The name of an action in the log, or null when the UI has none (it then shows the move). */
export function actionName(action, flow) {
  if (KNOWN_ACTIONS.includes(action)) return t(`flow.action.${action}`)
  const known = seenLabels.get(`${flow?.flow}/${action}`)
  return known ? label(known, action) : null
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
