// Routes. A hash history (`#/crm/opportunity`) so the server serves one page at `/` and never
// needs to know the UI's paths.
import { createRouter, createWebHashHistory } from 'vue-router'
import { api } from './api'
import { isAdmin, restoreSession, session, signedIn } from './session'
import LoginView from './views/LoginView.vue'
import ShellView from './views/ShellView.vue'
import HomeView from './views/HomeView.vue'
import ListView from './views/ListView.vue'
import RecordView from './views/RecordView.vue'
import TasksView from './views/TasksView.vue'

export const router = createRouter({
  history: createWebHashHistory(),
  routes: [
    { path: '/login', name: 'login', component: LoginView, meta: { public: true } },
    // A form's public web form: no sign-in and no shell, for visitors (loaded when opened).
    { path: '/-/web/:app/:form', name: 'web-form', component: () => import('./views/WebFormView.vue'), meta: { public: true } },
    {
      path: '/',
      component: ShellView,
      children: [
        { path: '', name: 'home', component: HomeView },
        // Pages of no one app start with `-`, which no app id does: they never hide an app's.
        { path: '-/tasks', name: 'tasks', component: TasksView },
        // Every user's own page; also where a user who must choose a new password is kept.
        { path: '-/profile', name: 'profile', component: () => import('./views/ProfileView.vue') },
        // Everyone's own API tokens; admins see and make everyone's.
        { path: '-/tokens', name: 'tokens', component: () => import('./views/TokensView.vue') },
        // The organisation, for admins only, and rarely: loaded when first opened.
        { path: '-/admin/users', name: 'admin-users', component: () => import('./views/UsersView.vue'), meta: { admin: true } },
        { path: '-/admin/departments', name: 'admin-departments', component: () => import('./views/DepartmentsView.vue'), meta: { admin: true } },
        { path: '-/admin/handover', name: 'admin-handover', component: () => import('./views/HandoverView.vue'), meta: { admin: true } },
        { path: '-/admin/audit', name: 'admin-audit', component: () => import('./views/AuditView.vue'), meta: { admin: true } },
        // The app builder and form designer, for admins: loaded when first opened.
        { path: '-/builder', name: 'admin-builder', component: () => import('./views/BuilderView.vue'), meta: { admin: true } },
        { path: '-/builder/:app', name: 'admin-builder-app', component: () => import('./views/BuilderView.vue'), meta: { admin: true } },
        { path: '-/builder/:app/forms/:form', name: 'admin-designer', component: () => import('./views/FormDesigner.vue'), meta: { admin: true } },
        { path: '-/builder/:app/flows/:form', name: 'admin-flow-designer', component: () => import('./views/FlowDesigner.vue'), meta: { admin: true } },
        { path: '-/builder/:app/rules/:rule?', name: 'admin-scripts', component: () => import('./views/ScriptsView.vue'), meta: { admin: true } },
        { path: '-/builder/:app/settings', name: 'admin-builder-settings', component: () => import('./views/AppSettingsView.vue'), meta: { admin: true } },
        { path: '-/builder/:app/permissions', name: 'admin-permissions', component: () => import('./views/PermissionsView.vue'), meta: { admin: true } },
        { path: '-/builder/:app/reports/:report', name: 'admin-report-builder', component: () => import('./views/ReportBuilder.vue'), meta: { admin: true } },
        { path: '-/builder/:app/dashboards/:dashboard', name: 'admin-dashboard-builder', component: () => import('./views/DashboardBuilder.vue'), meta: { admin: true } },
        { path: ':app', name: 'app', component: HomeView },
        // Loaded when first opened: the charts are most of its weight, and many users never do.
        { path: ':app/dashboards/:dashboard', name: 'dashboard', component: () => import('./views/DashboardView.vue') },
        // Admins only, and rarely: loaded when first opened.
        { path: ':app/-/indexes', name: 'indexes', component: () => import('./views/IndexAdviceView.vue') },
        { path: ':app/:form', name: 'list', component: ListView },
        { path: ':app/:form/new', name: 'new', component: RecordView },
        { path: ':app/:form/:id', name: 'record', component: RecordView },
      ],
    },
  ],
})

// Every page but the login needs a session; the login page sends the user back afterwards.
// The first navigation waits for the start-up question of a tab without a token (is the
// session cookie of another tab still good?), so a signed-in user never sees the login page
// flash by. A user who must choose a new password sees only their profile until they have;
// admin pages send anyone else home (the server would refuse their requests anyway).
router.beforeEach(async (to) => {
  await restoreSession(api.cookieSession)
  if (!to.meta.public && !signedIn()) return { name: 'login', query: to.fullPath !== '/' ? { redirect: to.fullPath } : {} }
  if (to.name === 'login' && signedIn()) return { path: '/' }
  if (!to.meta.public && session.user?.must_change_password && to.name !== 'profile') {
    return { name: 'profile', query: { required: '1', ...(to.fullPath !== '/' ? { redirect: to.fullPath } : {}) } }
  }
  if (to.meta.admin && !isAdmin()) return { path: '/' }
  return true
})
