//! The organisation as one command reads it: the users with their grants and the department
//! tree, read together whenever a command needs them — role members, manager chains,
//! department scopes — so a move or a grant counts at the next command. Below `access` and the
//! flows, which ask it; `organisation/` is where admins change it.

use std::collections::BTreeSet;

use store::Conn;

use crate::EngineError;

/// The people and the department tree as one command reads them.
#[derive(Default)]
pub(crate) struct Organisation {
    pub(crate) users: Vec<store::User>,
    pub(crate) departments: Vec<store::Department>,
}

impl Organisation {
    pub(crate) async fn load(db: &impl Conn) -> Result<Organisation, EngineError> {
        Ok(Organisation { users: store::users(db).await?, departments: store::departments(db).await? })
    }

    /// Whether `username` is an active user.
    pub(crate) fn active(&self, username: &str) -> bool {
        self.users.iter().any(|u| u.username == username && u.active)
    }

    /// Active users holding `role` in `app` (the platform's `admin` holds it everywhere).
    pub(crate) fn role_members(&self, app: &str, role: &str) -> Vec<String> {
        let holds = |u: &store::User| u.roles.iter().chain(u.grants.get(app).into_iter().flatten()).any(|r| r == role);
        self.users.iter().filter(|u| u.active && holds(u)).map(|u| u.username.clone()).collect()
    }

    /// The managers above `user`, nearest first, `levels` of them at most: the manager of each
    /// department up the tree, skipping the user themself and deactivated managers.
    pub(crate) fn managers(&self, user: &str, levels: u8) -> Vec<String> {
        let mut current = self.users.iter().find(|u| u.username == user).and_then(|u| u.department.clone());
        let mut out: Vec<String> = Vec::new();
        let mut visited = 0;
        while let Some(id) = current.take() {
            let Some(department) = self.departments.iter().find(|d| d.id == id) else { break };
            if let Some(manager) = &department.manager
                && manager != user
                && !out.contains(manager)
                && self.active(manager)
            {
                out.push(manager.clone());
            }
            visited += 1;
            if out.len() >= usize::from(levels) || visited > self.departments.len() {
                break;
            }
            current = department.parent.clone();
        }
        out
    }

    /// `home` and, with `below`, every department under it.
    pub(crate) fn tree_of(&self, home: &str, below: bool) -> BTreeSet<String> {
        if below { subtree(&self.departments, home) } else { BTreeSet::from([home.to_owned()]) }
    }
}

/// `home` and every department under it in `departments`.
pub(crate) fn subtree(departments: &[store::Department], home: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::from([home.to_owned()]);
    // Grow the set until no department's parent is in it without it being in it too.
    loop {
        let before = found.len();
        for d in departments {
            if d.parent.as_ref().is_some_and(|p| found.contains(p)) {
                found.insert(d.id.clone());
            }
        }
        if found.len() == before {
            return found;
        }
    }
}
