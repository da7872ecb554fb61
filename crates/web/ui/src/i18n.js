// Languages of the UI: the chosen locale, the UI's own messages, and how definition labels
// (a string, or `{"en": …, "zh-CN": …}`) are read in that locale.
//
// A tiny module instead of vue-i18n: the UI has a few dozen messages of its own, and
// everything else comes translated inside the app definitions.
import { ref, watchEffect } from 'vue'
import zhCn from 'element-plus/es/locale/lang/zh-cn'
import en from 'element-plus/es/locale/lang/en'

export const LOCALES = [
  { id: 'zh-CN', name: '中文', element: zhCn },
  { id: 'en', name: 'English', element: en },
]

const STORAGE_KEY = 'tessera.locale'

function initialLocale() {
  const saved = localStorage.getItem(STORAGE_KEY)
  return LOCALES.some((l) => l.id === saved) ? saved : 'zh-CN'
}

/** The current locale id; components that read it re-render when it changes. */
export const locale = ref(initialLocale())

watchEffect(() => {
  localStorage.setItem(STORAGE_KEY, locale.value)
  document.documentElement.lang = locale.value
})

/** Element Plus's own translations (date pickers, pagination, empty states) for the locale. */
export function elementLocale() {
  return LOCALES.find((l) => l.id === locale.value).element
}

/** A definition label in the current locale: `label[locale] || label.en || label`. */
export function label(l, fallback = '') {
  if (l == null) return fallback
  if (typeof l === 'string') return l
  return l[locale.value] ?? l.en ?? Object.values(l)[0] ?? fallback
}

const MESSAGES = {
  'zh-CN': {
    'login.title': '登录',
    'login.username': '用户名',
    'login.password': '密码',
    'login.submit': '登录',
    'login.failed': '用户名或密码错误',
    'login.expired': '登录已过期，请重新登录',
    'shell.logout': '退出登录',
    'shell.apps': '应用',
    'shell.menu': '菜单',
    'home.noApps': '没有可用的应用',
    'list.new': '新建',
    'list.search': '搜索{field}',
    'list.filter': '筛选',
    'list.addCondition': '添加条件',
    'list.apply': '应用',
    'list.clear': '清除',
    'list.trash': '回收站',
    'list.columns': '列',
    'list.defaultColumns': '恢复默认列',
    'list.restore': '恢复',
    'list.restored': '已恢复',
    'list.loadMore': '加载更多',
    'list.loaded': '已加载 {n} 条',
    'list.allLoaded': '共 {n} 条',
    'list.empty': '没有记录',
    'list.updatedAt': '更新时间',
    'list.owner': '负责人',
    'list.deletedAt': '删除时间',
    'list.actions': '操作',
    'filter.field': '字段',
    'filter.op': '条件',
    'op.eq': '等于',
    'op.ne': '不等于',
    'op.gt': '大于',
    'op.gte': '大于等于',
    'op.lt': '小于',
    'op.lte': '小于等于',
    'op.in': '属于',
    'op.nin': '不属于',
    'op.contains': '包含',
    'op.starts_with': '开头是',
    'op.between': '介于',
    'op.is_null': '为空',
    'common.yes': '是',
    'common.no': '否',
    'common.and': '至',
    'common.back': '返回',
    'common.cancel': '取消',
    'common.confirm': '确定',
    'common.reload': '重新加载',
    'common.open': '打开',
    'record.new': '新建{form}',
    'record.save': '保存',
    'record.saved': '已保存',
    'record.created': '已创建',
    'record.reset': '撤销修改',
    'record.delete': '删除',
    'record.deleted': '已删除',
    'record.deleteConfirm': '确定删除这条记录吗？删除后可以在回收站恢复。',
    'record.details': '详情',
    'record.history': '历史',
    'record.version': '版本 {v}',
    'record.other': '其他',
    'record.owner': '负责人',
    'record.updated': '{who} 更新于 {when}',
    'record.invalid': '请修改标出的字段',
    'record.stale': '这条记录已被他人修改（当前版本 {v}）。重新加载后再修改；你未保存的修改会被丢弃。',
    'record.duplicate': '已存在相同的记录：',
    'record.duplicateField': '与已有记录重复',
    'record.unsaved': '有未保存的修改，确定离开吗？',
    'record.notFound': '记录不存在',
    'history.create': '创建',
    'history.update': '修改',
    'history.delete': '删除',
    'history.restore': '恢复',
    'history.nothing': '没有字段变化',
    'history.empty': '（空）',
    'table.add': '添加一行',
    'table.remove': '删除',
    'table.rows': '{n} 行',
    'region.province': '省份',
    'region.city': '城市',
    'link.search': '输入以搜索',
    'attachment.none': '无附件',
    'auto.assigned': '保存后自动生成',
    'tags.add': '输入后回车添加',
    'error.network': '无法连接服务器',
    'error.generic': '请求失败：{message}',
  },
  en: {
    'login.title': 'Sign in',
    'login.username': 'Username',
    'login.password': 'Password',
    'login.submit': 'Sign in',
    'login.failed': 'Wrong username or password',
    'login.expired': 'Your session ended; please sign in again',
    'shell.logout': 'Sign out',
    'shell.apps': 'Apps',
    'shell.menu': 'Menu',
    'home.noApps': 'No apps available',
    'list.new': 'New',
    'list.search': 'Search {field}',
    'list.filter': 'Filter',
    'list.addCondition': 'Add condition',
    'list.apply': 'Apply',
    'list.clear': 'Clear',
    'list.trash': 'Trash',
    'list.columns': 'Columns',
    'list.defaultColumns': 'Default columns',
    'list.restore': 'Restore',
    'list.restored': 'Restored',
    'list.loadMore': 'Load more',
    'list.loaded': '{n} loaded',
    'list.allLoaded': '{n} in all',
    'list.empty': 'No records',
    'list.updatedAt': 'Updated',
    'list.owner': 'Owner',
    'list.deletedAt': 'Deleted',
    'list.actions': 'Actions',
    'filter.field': 'Field',
    'filter.op': 'Condition',
    'op.eq': 'equals',
    'op.ne': 'is not',
    'op.gt': 'greater than',
    'op.gte': 'at least',
    'op.lt': 'less than',
    'op.lte': 'at most',
    'op.in': 'is one of',
    'op.nin': 'is none of',
    'op.contains': 'contains',
    'op.starts_with': 'starts with',
    'op.between': 'between',
    'op.is_null': 'is empty',
    'common.yes': 'Yes',
    'common.no': 'No',
    'common.and': 'and',
    'common.back': 'Back',
    'common.cancel': 'Cancel',
    'common.confirm': 'OK',
    'common.reload': 'Reload',
    'common.open': 'Open',
    'record.new': 'New {form}',
    'record.save': 'Save',
    'record.saved': 'Saved',
    'record.created': 'Created',
    'record.reset': 'Discard changes',
    'record.delete': 'Delete',
    'record.deleted': 'Deleted',
    'record.deleteConfirm': 'Delete this record? You can restore it from the trash.',
    'record.details': 'Details',
    'record.history': 'History',
    'record.version': 'Version {v}',
    'record.other': 'Other',
    'record.owner': 'Owner',
    'record.updated': 'Updated by {who} on {when}',
    'record.invalid': 'Please correct the highlighted fields',
    'record.stale': 'Someone else changed this record (now version {v}). Reload it and make your change again; your unsaved edits will be discarded.',
    'record.duplicate': 'A record with the same values exists:',
    'record.duplicateField': 'Same as an existing record',
    'record.unsaved': 'You have unsaved changes. Leave anyway?',
    'record.notFound': 'Record not found',
    'history.create': 'Created',
    'history.update': 'Changed',
    'history.delete': 'Deleted',
    'history.restore': 'Restored',
    'history.nothing': 'No field changed',
    'history.empty': '(empty)',
    'table.add': 'Add row',
    'table.remove': 'Remove',
    'table.rows': '{n} rows',
    'region.province': 'Province',
    'region.city': 'City',
    'link.search': 'Type to search',
    'attachment.none': 'No attachments',
    'auto.assigned': 'Assigned when saved',
    'tags.add': 'Type and press Enter',
    'error.network': 'Cannot reach the server',
    'error.generic': 'Request failed: {message}',
  },
}

/** A UI message in the current locale, with `{name}` placeholders filled from `params`. */
export function t(key, params = {}) {
  const text = MESSAGES[locale.value]?.[key] ?? MESSAGES.en[key] ?? key
  return text.replace(/\{(\w+)\}/g, (_, name) => String(params[name] ?? ''))
}
