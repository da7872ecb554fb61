// Pages that edit definitions keep what the admin has not saved yet: leaving them — for another
// page of the app, or by closing the tab — asks first.
import { onBeforeUnmount, onMounted } from 'vue'
import { onBeforeRouteLeave } from 'vue-router'
import { ElMessageBox } from 'element-plus'
import { t } from './i18n'

/** Asks before leaving while `dirty.value` is true (a ref or computed of the page). */
export function guardUnsaved(dirty) {
  function onBeforeUnload(e) {
    if (dirty.value) {
      e.preventDefault()
      e.returnValue = ''
    }
  }
  onBeforeRouteLeave(async () => {
    if (!dirty.value) return true
    try {
      await ElMessageBox.confirm(t('common.leaveUnsaved'), {
        type: 'warning',
        confirmButtonText: t('common.leave'),
        cancelButtonText: t('common.stay'),
      })
      return true
    } catch {
      return false
    }
  })
  onMounted(() => window.addEventListener('beforeunload', onBeforeUnload))
  onBeforeUnmount(() => window.removeEventListener('beforeunload', onBeforeUnload))
}
