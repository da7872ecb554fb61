// The Element Plus components the templates use, registered one by one: registering the
// whole library (`app.use(ElementPlus)`) would put every component in the bundle. A
// component missing here shows as "Failed to resolve component: el-…" in the dev console.
// (Widgets built with render functions import their components directly.)
import {
  ElAlert,
  ElAside,
  ElAvatar,
  ElBadge,
  ElButton,
  ElCard,
  ElCheckbox,
  ElCheckboxGroup,
  ElCol,
  ElConfigProvider,
  ElContainer,
  ElDatePicker,
  ElDialog,
  ElDrawer,
  ElDropdown,
  ElDropdownItem,
  ElDropdownMenu,
  ElEmpty,
  ElForm,
  ElFormItem,
  ElHeader,
  ElIcon,
  ElInput,
  ElLoading,
  ElMain,
  ElMenu,
  ElMenuItem,
  ElMenuItemGroup,
  ElOption,
  ElProgress,
  ElRadio,
  ElRadioButton,
  ElRadioGroup,
  ElPopover,
  ElRow,
  ElSelect,
  ElTabPane,
  ElTable,
  ElTableColumn,
  ElTabs,
  ElTag,
  ElTimeline,
  ElTimelineItem,
  ElTooltip,
  ElTree,
} from 'element-plus'

const COMPONENTS = [
  ElAlert, ElAside, ElAvatar, ElBadge, ElButton, ElCard, ElCheckbox, ElCheckboxGroup, ElCol, ElConfigProvider,
  ElContainer, ElDatePicker, ElDialog, ElDrawer, ElDropdown, ElDropdownItem, ElDropdownMenu, ElEmpty, ElForm, ElFormItem, ElHeader, ElIcon,
  ElInput, ElMain, ElMenu, ElMenuItem, ElMenuItemGroup, ElOption, ElProgress, ElRadio, ElRadioButton, ElRadioGroup, ElPopover, ElRow, ElSelect, ElTabPane, ElTable,
  ElTableColumn, ElTabs, ElTag, ElTimeline, ElTimelineItem, ElTooltip, ElTree,
]

export function installElement(app) {
  for (const component of COMPONENTS) app.use(component)
  app.use(ElLoading) // the v-loading directive
}
