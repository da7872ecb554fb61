//! Cross-references between definition files: everything a schema alone cannot see.

use std::collections::HashSet;
use std::path::PathBuf;

use crate::{
    AppDefs, DefKind, Diagnostic, FORMAT_VERSION, Field, FieldKind, Form, Generator, HookKind, Scope, is_identifier, unknown_user,
};

/// The types a score hook may write its number into.
const SCORE_KINDS: &[FieldKind] = &[FieldKind::NUMBER, FieldKind::INTEGER, FieldKind::DECIMAL];

pub(crate) fn cross_references(defs: &AppDefs) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let app_file = defs.dir.join("app.json");
    let mut at = |file: &PathBuf, pointer: String, message: String| out.push(Diagnostic::new(file, pointer, message));

    schema_reference(&defs.app.schema, DefKind::App, &app_file, &mut at);
    if !is_identifier(&defs.app.id) {
        // The API reaches an app by its id (`engine::AppId`): one it cannot name is unreachable.
        at(&app_file, "/id".into(), "an app id is snake_case, at most 48 characters".into());
    }
    if defs.app.format_version != FORMAT_VERSION {
        at(&app_file, "/format_version".into(), format!("this Tessera reads format_version {FORMAT_VERSION}"));
    }
    for (g, group) in defs.app.navigation.iter().enumerate() {
        for (i, form) in group.forms.iter().enumerate() {
            if !defs.form_exists(form) {
                at(&app_file, format!("/navigation/{g}/forms/{i}"), format!("no form `{form}`"));
            }
        }
    }
    let roles: HashSet<&str> = defs.app.roles.iter().map(|r| r.id.as_str()).collect();
    let departments: HashSet<&str> = defs.app.departments.iter().map(|d| d.id.as_str()).collect();
    let users = defs.usernames();
    for (i, department) in defs.app.departments.iter().enumerate() {
        if let Some(parent) = &department.parent
            && !departments.contains(parent.as_str())
        {
            at(&app_file, format!("/departments/{i}/parent"), format!("no department `{parent}`"));
        }
        if let Some(manager) = &department.manager
            && !users.contains(manager.as_str())
        {
            at(&app_file, format!("/departments/{i}/manager"), unknown_user(manager));
        }
        // Walking up from each department must end at a root, not go round in a circle.
        let mut seen = HashSet::new();
        let mut current = Some(department);
        while let Some(d) = current {
            if !seen.insert(d.id.as_str()) {
                at(&app_file, format!("/departments/{i}/parent"), format!("department `{}` is its own ancestor", department.id));
                break;
            }
            current = d.parent.as_ref().and_then(|p| defs.app.departments.iter().find(|x| &x.id == p));
        }
    }
    let mut schedule_ids = HashSet::new();
    for (i, schedule) in defs.app.schedules.iter().enumerate() {
        if !schedule_ids.insert(schedule.id.as_str()) {
            at(&app_file, format!("/schedules/{i}/id"), format!("schedule `{}` is declared twice", schedule.id));
        }
        let script = schedule.rule.split_once('.').map_or(schedule.rule.as_str(), |(s, _)| s);
        if !defs.scripts.contains_key(script) {
            at(&app_file, format!("/schedules/{i}/rule"), format!("no script `rules/{script}.rhai`"));
        }
    }

    for (id, connector) in &defs.app.connectors {
        let crate::Provider::Fixture(records) = &connector.provider;
        if !is_identifier(id) {
            at(&app_file, format!("/connectors/{id}"), "a connector id is snake_case".into());
        }
        if records.len() > crate::MAX_FIXTURE_RECORDS {
            let message = format!("a fixture holds at most {} records", crate::MAX_FIXTURE_RECORDS);
            at(&app_file, format!("/connectors/{id}/provider/fixture"), message);
        }
        let mut keys = HashSet::new();
        for (r, record) in records.iter().enumerate() {
            let pointer = format!("/connectors/{id}/provider/fixture/{r}/{}", connector.key);
            match record.get(&connector.key).and_then(|k| k.as_str()) {
                None => at(&app_file, pointer, format!("each record holds its key `{}` as text", connector.key)),
                Some(key) if !keys.insert(key) => at(&app_file, pointer, format!("`{key}` answers twice")),
                Some(_) => {}
            }
        }
    }

    for (b, role) in defs.app.builders.iter().enumerate() {
        if !roles.contains(role.as_str()) {
            at(&app_file, format!("/builders/{b}"), format!("no role `{role}` in app.json"));
        }
    }

    for (id, form) in &defs.forms {
        let file = defs.dir.join("forms").join(format!("{id}.json"));
        schema_reference(&form.schema, DefKind::Form, &file, &mut at);
        check_form(defs, form, &file, &mut at);
        check_related(defs, id, form, &file, &mut at);
        check_web_form(form, &file, &mut at);
        crate::rollup::check_rollups(defs, id, form, &file, &mut at);
        for (g, grant) in form.permissions.iter().enumerate() {
            for (r, role) in grant.roles.iter().enumerate() {
                if !roles.contains(role.as_str()) {
                    at(&file, format!("/permissions/{g}/roles/{r}"), format!("no role `{role}` in app.json"));
                }
            }
            if grant.scope == Scope::Pool && form.pool.is_none() {
                at(&file, format!("/permissions/{g}/scope"), "the form has no `pool`".into());
            }
            if let Scope::UserField(name) = &grant.scope
                && form.field(name).is_none_or(|f| f.kind != FieldKind::USER)
            {
                at(&file, format!("/permissions/{g}/scope/user_field"), format!("no user field `{name}`"));
            }
            if let Scope::Via(link) = &grant.scope {
                let pointer = format!("/permissions/{g}/scope/via");
                match form.field(link).filter(|f| f.kind == FieldKind::LINK).and_then(|f| f.form.as_deref()) {
                    None => at(&file, pointer, format!("no link field `{link}`")),
                    Some(target)
                        if defs.forms.get(target).is_some_and(|t| t.permissions.iter().any(|g| matches!(g.scope, Scope::Via(_)))) =>
                    {
                        at(&file, pointer, format!("form `{target}` grants by a link too: a scope follows one link at most"))
                    }
                    Some(_) => {}
                }
            }
            for (list, what) in [(&grant.hidden, "hidden"), (&grant.read_only, "read_only")] {
                for (f, name) in list.iter().enumerate() {
                    if form.field(name).is_none() {
                        at(&file, format!("/permissions/{g}/{what}/{f}"), format!("no field `{name}`"));
                    }
                }
            }
        }
    }

    for (id, seed) in &defs.seeds {
        let file = defs.dir.join("seed").join(format!("{id}.json"));
        schema_reference(&seed.schema, DefKind::Seed, &file, &mut at);
        for (u, user) in seed.users.iter().enumerate() {
            for (r, role) in user.roles.iter().enumerate() {
                if !roles.contains(role.as_str()) {
                    at(&file, format!("/users/{u}/roles/{r}"), format!("no role `{role}` in app.json"));
                }
            }
            if let Some(department) = &user.department
                && !departments.contains(department.as_str())
            {
                at(&file, format!("/users/{u}/department"), format!("no department `{department}` in app.json"));
            }
        }
        let users: HashSet<&str> = seed.users.iter().map(|u| u.username.as_str()).chain(["admin"]).collect();
        for (s, part) in seed.forms.iter().enumerate() {
            let Some(form) = defs.forms.get(&part.form) else {
                if !defs.form_exists(&part.form) {
                    at(&file, format!("/forms/{s}/form"), format!("no form `{}`", part.form));
                }
                continue;
            };
            for (o, owner) in part.owners.iter().enumerate() {
                if !users.contains(owner.as_str()) {
                    at(&file, format!("/forms/{s}/owners/{o}"), format!("no seed user `{owner}`"));
                }
            }
            check_generators(defs, seed, &form.fields, &part.fields, &format!("/forms/{s}/fields"), &file, &mut at);
            if let Some([least, most]) = part.age_days
                && (least > most || most > 36_500)
            {
                at(&file, format!("/forms/{s}/age_days"), "from the fewest days to the most, at most 36,500 (a hundred years)".into());
            }
        }
    }
    out.extend(crate::report::cross_references(defs));
    out.extend(crate::flow::cross_references(defs));
    out
}

impl AppDefs {
    /// The users an app's definitions may name: those its seed files create, and `admin`, whom
    /// every installation has. A name outside them fails only when a record reaches it.
    pub(crate) fn usernames(&self) -> HashSet<&str> {
        self.seeds.values().flat_map(|seed| &seed.users).map(|u| u.username.as_str()).chain(["admin"]).collect()
    }
}

/// Each related list names a form whose `link` (a field, or a dot path through links) ends at
/// this form.
fn check_related(defs: &AppDefs, id: &str, form: &Form, file: &PathBuf, at: &mut impl FnMut(&PathBuf, String, String)) {
    for (r, related) in form.related.iter().enumerate() {
        let Some(mut other) = defs.forms.get(&related.form) else {
            // A form that exists but did not load has its own problem already.
            if !defs.form_exists(&related.form) {
                at(file, format!("/related/{r}/form"), format!("no form `{}`", related.form));
            }
            continue;
        };
        let mut reaches = None;
        for name in related.link.split('.') {
            let Some(target) = other.field(name).filter(|f| f.kind == FieldKind::LINK).and_then(|f| f.form.as_deref()) else {
                reaches = None;
                break;
            };
            reaches = Some(target);
            other = match defs.forms.get(target) {
                Some(next) => next,
                None => break,
            };
        }
        // A link to a form that is missing or did not load has its own problem already.
        if reaches.is_some_and(|target| target != id && !defs.forms.contains_key(target)) {
            continue;
        }
        if reaches != Some(id) {
            let message = format!("`{}` is not a link (or a path of links) of form `{}` to this form", related.link, related.form);
            at(file, format!("/related/{r}/link"), message);
        }
    }
}

/// The kinds a visitor can fill on a public form: no links, users, tables or files, which would
/// ask them about records and people they cannot see.
const WEB_FORM_KINDS: &[FieldKind] = &[
    FieldKind::TEXT,
    FieldKind::TEXTAREA,
    FieldKind::NUMBER,
    FieldKind::INTEGER,
    FieldKind::DECIMAL,
    FieldKind::CURRENCY,
    FieldKind::BOOLEAN,
    FieldKind::DATE,
    FieldKind::SELECT,
    FieldKind::MULTISELECT,
    FieldKind::EMAIL,
    FieldKind::PHONE,
    FieldKind::URL,
    FieldKind::REGION,
];

fn check_web_form(form: &Form, file: &PathBuf, at: &mut impl FnMut(&PathBuf, String, String)) {
    let Some(web) = &form.web_form else { return };
    let mut seen = HashSet::new();
    for (i, name) in web.fields.iter().enumerate() {
        let pointer = format!("/web_form/fields/{i}");
        match form.field(name) {
            None => at(file, pointer, format!("no field `{name}`")),
            Some(f) if !WEB_FORM_KINDS.contains(&f.kind) => at(file, pointer, format!("a visitor cannot fill a `{}` field", f.kind)),
            Some(_) if !seen.insert(name.as_str()) => at(file, pointer, format!("`{name}` is listed twice")),
            Some(_) => {}
        }
    }
    for (i, name) in web.hidden.iter().enumerate() {
        if form.field(name).is_none() {
            at(file, format!("/web_form/hidden/{i}"), format!("no field `{name}`"));
        } else if !seen.insert(name.as_str()) {
            at(file, format!("/web_form/hidden/{i}"), format!("`{name}` is listed twice"));
        }
    }
    for name in web.set.keys() {
        if form.field(name).is_none() {
            at(file, format!("/web_form/set/{name}"), format!("no field `{name}`"));
        } else if seen.contains(name.as_str()) {
            at(file, format!("/web_form/set/{name}"), format!("`{name}` is filled by the visitor too"));
        }
    }
}

fn schema_reference(schema: &str, kind: DefKind, file: &PathBuf, at: &mut impl FnMut(&PathBuf, String, String)) {
    if !schema.ends_with(kind.schema_file()) {
        at(file, "/$schema".into(), format!("must name the schema `{}`", kind.schema_file()));
    }
}

fn check_form(defs: &AppDefs, form: &Form, file: &PathBuf, at: &mut impl FnMut(&PathBuf, String, String)) {
    check_fields(defs, &form.fields, "/fields", file, at);
    for (h, hook) in form.hooks.iter().enumerate() {
        let (script, _) = hook.target();
        if !defs.scripts.contains_key(script) {
            at(file, format!("/hooks/{h}/rule"), format!("no script `rules/{script}.rhai`"));
        }
        match (hook.on, &hook.field) {
            (HookKind::Score, None) => at(file, format!("/hooks/{h}/field"), "a score hook names the `field` it sets".into()),
            (HookKind::Score, Some(name)) if form.field(name).is_none_or(|f| !SCORE_KINDS.contains(&f.kind)) => {
                at(file, format!("/hooks/{h}/field"), format!("`{name}` is not a number field of this form"))
            }
            (HookKind::Score, Some(_)) => {}
            (_, Some(_)) => at(file, format!("/hooks/{h}/field"), "only score hooks take a `field`".into()),
            (_, None) => {}
        }
    }
    let known = |name: &str| form.field(name).is_some();
    if let Some(title) = &form.title_field
        && !known(title)
    {
        at(file, "/title_field".into(), format!("no field `{title}`"));
    }
    let mut tabs = HashSet::new();
    for (t, tab) in form.tabs.iter().enumerate() {
        if !tabs.insert(tab.id.as_str()) {
            at(file, format!("/tabs/{t}/id"), format!("tab `{}` is listed twice", tab.id));
        } else if !form.layout.iter().any(|s| s.tab.as_deref() == Some(tab.id.as_str())) {
            at(file, format!("/tabs/{t}"), format!("no section is on tab `{}`", tab.id));
        }
    }
    for (s, section) in form.layout.iter().enumerate() {
        if let Some(tab) = section.tab.as_deref().filter(|tab| !tabs.contains(tab)) {
            at(file, format!("/layout/{s}/tab"), format!("no tab `{tab}` in `tabs`"));
        }
    }
    for (i, name) in form.list_columns.iter().enumerate().filter(|(_, name)| !known(name)) {
        at(file, format!("/list_columns/{i}"), format!("no field `{name}`"));
    }
    let mut placed = HashSet::new();
    for (s, section) in form.layout.iter().enumerate() {
        for (i, name) in section.fields.iter().enumerate() {
            let pointer = format!("/layout/{s}/fields/{i}");
            if !known(name) {
                at(file, pointer, format!("no field `{name}`"));
            } else if !placed.insert(name.as_str()) {
                at(file, pointer, format!("field `{name}` is placed twice"));
            }
        }
    }
    for (list, what) in [(&form.indexes, "indexes"), (&form.dedupe, "dedupe")] {
        for (k, key) in list.iter().enumerate() {
            if key.is_empty() {
                at(file, format!("/{what}/{k}"), "needs at least one field".into());
            }
            // Whether a key's field holds one scalar is the field type's answer: `forms` checks it.
            for (i, name) in key.iter().enumerate().filter(|(_, name)| !known(name)) {
                at(file, format!("/{what}/{k}/{i}"), format!("no field `{name}`"));
            }
        }
    }
}

fn check_fields(defs: &AppDefs, fields: &[Field], base: &str, file: &PathBuf, at: &mut impl FnMut(&PathBuf, String, String)) {
    let mut seen = HashSet::new();
    for (i, field) in fields.iter().enumerate() {
        let p = format!("{base}/{i}");
        if !is_identifier(&field.id) {
            at(file, format!("{p}/id"), format!("`{}` is not a snake_case identifier", field.id));
        }
        if matches!(field.id.as_str(), "id" | "owner") {
            at(file, format!("{p}/id"), format!("`{}` is reserved: rules see the record's own {} under it", field.id, field.id));
        }
        if !seen.insert(field.id.as_str()) {
            at(file, format!("{p}/id"), format!("field `{}` is declared twice", field.id));
        }
        if field.kind == FieldKind::LINK || field.kind == FieldKind::FILTER {
            let kind = &field.kind;
            match &field.form {
                None => at(file, format!("{p}/form"), format!("a {kind} field names its target `form`")),
                Some(target) if !defs.form_exists(target) => {
                    at(file, format!("{p}/form"), format!("{kind} target form `{target}` does not exist"))
                }
                Some(_) => {}
            }
        } else if field.kind == FieldKind::TABLE {
            if field.fields.is_empty() {
                at(file, format!("{p}/fields"), "a table field needs columns in `fields`".into());
            }
            if base != "/fields" {
                at(file, format!("{p}/type"), "tables cannot be nested".into());
            }
            check_fields(defs, &field.fields, &format!("{p}/fields"), file, at);
        } else if field.kind == FieldKind::AUTO_NUMBER && !field.pattern.as_deref().is_some_and(|pat| pat.contains('#')) {
            at(file, format!("{p}/pattern"), "an auto_number needs a `pattern` with a run of `#`".into());
        }
        // Which properties apply to which type, and whether the type exists at all, are the
        // field type registry's answers (`forms`, checked when the engine loads the app).
    }
}

fn check_generators(
    defs: &AppDefs,
    seed: &crate::Seed,
    fields: &[Field],
    generators: &indexmap::IndexMap<String, Generator>,
    base: &str,
    file: &PathBuf,
    at: &mut impl FnMut(&PathBuf, String, String),
) {
    for (name, generator) in generators {
        let p = format!("{base}/{}", crate::diagnostic::segment(name));
        let Some(field) = fields.iter().find(|f| &f.id == name) else {
            at(file, p, format!("no field `{name}`"));
            continue;
        };
        let mut generator = generator;
        while let Generator::Sometimes { then, .. } = generator {
            generator = then;
        }
        match generator {
            Generator::Link(target) if !defs.form_exists(target) => at(file, p, format!("no form `{target}`")),
            Generator::Rows { fields: columns, .. } => {
                check_generators(defs, seed, &field.fields, columns, &format!("{p}/rows/fields"), file, at)
            }
            Generator::Template(text) => {
                for word in placeholders(text) {
                    if word != "#" && !word.starts_with('=') && !seed.lists.contains_key(word) {
                        at(file, p.clone(), format!("no list `{word}` for placeholder `{{{word}}}`"));
                    }
                }
            }
            _ => {}
        }
    }
}

/// The names inside `{…}` of a template.
pub(crate) fn placeholders(text: &str) -> impl Iterator<Item = &str> {
    text.split('{').skip(1).filter_map(|part| part.split_once('}').map(|(name, _)| name))
}
