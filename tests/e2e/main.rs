//! The end-to-end suite: the HTTP API in process, on SQLite and (when configured) PostgreSQL,
//! with the CRM app as users get it.

mod approval_race;
mod auth;
mod chart_kinds;
mod crm_rules;
mod database_down;
mod definitions;
mod demo;
mod error_codes;
mod exchange;
mod field_type_example;
mod field_types;
mod indexes;
mod integrity;
mod lists;
mod migrations;
mod money;
mod observability;
mod openapi;
mod permissions;
mod print;
mod records;
mod reports;
mod rollups;
mod rules;
mod schedules;
mod security_access;
mod security_bounds;
mod security_import;
mod security_reports;
mod security_rules;
mod typed_ids;
mod typed_storage;
mod workflow;
