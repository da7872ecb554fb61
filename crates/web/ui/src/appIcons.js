// The icons an app may choose (`icon` of app.json): Element Plus icon names, as the server's
// schema lists them. Imported one by one so the bundle holds these twenty, not the whole set.
import {
  Bell,
  Box,
  Briefcase,
  Calendar,
  Document,
  Files,
  Flag,
  Goods,
  Grid,
  Histogram,
  Management,
  Money,
  OfficeBuilding,
  Service,
  Setting,
  Shop,
  Star,
  Tickets,
  User,
  Van,
} from '@element-plus/icons-vue'

/** Icon name → component, in the order the settings page offers them. */
export const APP_ICONS = {
  Briefcase,
  User,
  Goods,
  Document,
  Tickets,
  Shop,
  OfficeBuilding,
  Histogram,
  Calendar,
  Money,
  Box,
  Van,
  Service,
  Management,
  Files,
  Flag,
  Star,
  Bell,
  Grid,
  Setting,
}

/** The component of an app's `icon`, or null (none chosen, or a name this UI does not know). */
export function appIcon(name) {
  return (name && APP_ICONS[name]) || null
}
