//! The whole data model of ARCHITECTURE.md.
//!
//! Every per-tenant table carries `tenant_id` with `ON DELETE CASCADE`; references inside a tenant
//! are plain foreign keys, checked at the end of each statement, so the store can refuse a delete
//! that would orphan a row and name the referrer. Messages and conversations keep the number as
//! text, not as a reference, so deleting a number keeps its history.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn fk(
    from: &'static str,
    col: &'static str,
    to: &'static str,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create().name(format!("fk_{from}_{col}")).from(from, col).to(to, "id").on_delete(on_delete).to_owned()
}

fn tenant_fk(from: &'static str) -> ForeignKeyCreateStatement {
    fk(from, "tenant_id", "tenant", ForeignKeyAction::Cascade)
}

fn unique(table: &'static str, name: &str, cols: &[&'static str]) -> IndexCreateStatement {
    let mut idx = Index::create();
    idx.name(format!("ux_{table}_{name}")).table(table).unique();
    for c in cols {
        idx.col(*c);
    }
    idx.to_owned()
}

fn index(table: &'static str, name: &str, cols: &[&'static str]) -> IndexCreateStatement {
    let mut idx = Index::create();
    idx.name(format!("ix_{table}_{name}")).table(table);
    for c in cols {
        idx.col(*c);
    }
    idx.to_owned()
}

fn stamps(t: &mut TableCreateStatement) -> &mut TableCreateStatement {
    t.col(timestamp_with_time_zone("created_at")).col(timestamp_with_time_zone("updated_at"))
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let mut tables: Vec<TableCreateStatement> = Vec::new();
        let mut indexes: Vec<IndexCreateStatement> = Vec::new();

        tables.push(
            stamps(
                Table::create()
                    .table("tenant")
                    .col(pk_uuid("id"))
                    .col(string_len("slug", 63))
                    .col(string_len("name", 200))
                    .col(string_len("status", 16))
                    .col(text_null("webhook_url"))
                    .col(text("webhook_secret_enc"))
                    .col(text_null("webhook_secret_prev_enc"))
                    .col(timestamp_with_time_zone_null("webhook_secret_rotated_at"))
                    .col(big_integer("event_seq").default(0)),
            )
            .to_owned(),
        );
        indexes.push(unique("tenant", "slug", &["slug"]));

        tables.push(
            stamps(
                Table::create()
                    .table("company")
                    .col(pk_uuid("id"))
                    .col(uuid("tenant_id"))
                    .col(string_len("name", 200))
                    .foreign_key(&mut tenant_fk("company")),
            )
            .to_owned(),
        );
        indexes.push(index("company", "tenant", &["tenant_id", "id"]));

        tables.push(
            stamps(
                Table::create()
                    .table("provider")
                    .col(pk_uuid("id"))
                    .col(uuid("tenant_id"))
                    .col(string_len("kind", 32))
                    .col(string_len("name", 200))
                    .col(string_len("access_key", 256))
                    .col(text("secret_key_enc"))
                    .col(text("endpoint"))
                    .col(string_len_null("default_did", 16))
                    .col(string_len_null("sender_id", 32))
                    .col(uuid_null("catch_all_company_id"))
                    .foreign_key(&mut tenant_fk("provider"))
                    .foreign_key(&mut fk("provider", "catch_all_company_id", "company", ForeignKeyAction::NoAction)),
            )
            .to_owned(),
        );
        indexes.push(index("provider", "tenant", &["tenant_id", "id"]));

        tables.push(
            stamps(
                Table::create()
                    .table("inbound_prefix")
                    .col(pk_uuid("id"))
                    .col(uuid("tenant_id"))
                    .col(string_len("prefix", 64))
                    .col(uuid("provider_id"))
                    .foreign_key(&mut tenant_fk("inbound_prefix"))
                    .foreign_key(&mut fk("inbound_prefix", "provider_id", "provider", ForeignKeyAction::NoAction)),
            )
            .to_owned(),
        );
        indexes.push(unique("inbound_prefix", "prefix", &["prefix"]));
        indexes.push(index("inbound_prefix", "tenant", &["tenant_id", "id"]));

        tables.push(
            stamps(
                Table::create()
                    .table("extension")
                    .col(pk_uuid("id"))
                    .col(uuid("tenant_id"))
                    .col(string_len("extension", 32))
                    .col(string_len("name", 200))
                    .col(boolean("enabled").default(true))
                    .foreign_key(&mut tenant_fk("extension")),
            )
            .to_owned(),
        );
        indexes.push(unique("extension", "tenant_ext", &["tenant_id", "extension"]));

        tables.push(
            stamps(
                Table::create()
                    .table("policy")
                    .col(pk_uuid("id"))
                    .col(uuid("tenant_id"))
                    .col(string_len("name", 200))
                    .col(string_len("timezone", 64))
                    .col(json_binary("business_hours"))
                    .col(json_binary_null("after_hours"))
                    .col(json_binary("keywords"))
                    .col(integer("auto_reply_interval_minutes"))
                    .col(integer("outbound_per_minute"))
                    .col(text_null("help_reply"))
                    .col(boolean("opt_out_handling").default(true))
                    .foreign_key(&mut tenant_fk("policy")),
            )
            .to_owned(),
        );
        indexes.push(index("policy", "tenant", &["tenant_id", "id"]));

        tables.push(
            Table::create()
                .table("policy_extension")
                .col(uuid("policy_id"))
                .col(uuid("extension_id"))
                .primary_key(Index::create().col("policy_id").col("extension_id"))
                .foreign_key(&mut fk("policy_extension", "policy_id", "policy", ForeignKeyAction::Cascade))
                .foreign_key(&mut fk("policy_extension", "extension_id", "extension", ForeignKeyAction::NoAction))
                .to_owned(),
        );
        indexes.push(index("policy_extension", "extension", &["extension_id"]));

        tables.push(
            stamps(
                Table::create()
                    .table("number")
                    .col(pk_uuid("id"))
                    .col(uuid("tenant_id"))
                    .col(string_len("e164", 16))
                    .col(string_len("name", 200))
                    .col(uuid("provider_id"))
                    .col(uuid("prefix_id"))
                    .col(uuid_null("policy_id"))
                    .foreign_key(&mut tenant_fk("number"))
                    .foreign_key(&mut fk("number", "provider_id", "provider", ForeignKeyAction::NoAction))
                    .foreign_key(&mut fk("number", "prefix_id", "inbound_prefix", ForeignKeyAction::NoAction))
                    .foreign_key(&mut fk("number", "policy_id", "policy", ForeignKeyAction::NoAction)),
            )
            .to_owned(),
        );
        indexes.push(unique("number", "e164", &["e164"]));
        indexes.push(index("number", "tenant", &["tenant_id", "id"]));
        indexes.push(index("number", "prefix", &["prefix_id"]));
        indexes.push(index("number", "provider", &["provider_id"]));
        indexes.push(index("number", "policy", &["policy_id"]));

        for (table, col_role) in [("number_destination", true), ("number_sender", false)] {
            let mut t = Table::create();
            t.table(table).col(uuid("number_id")).col(uuid("extension_id"));
            if col_role {
                t.col(integer("position"));
            }
            tables.push(
                t.primary_key(Index::create().col("number_id").col("extension_id"))
                    .foreign_key(&mut fk(table, "number_id", "number", ForeignKeyAction::Cascade))
                    .foreign_key(&mut fk(table, "extension_id", "extension", ForeignKeyAction::NoAction))
                    .to_owned(),
            );
            indexes.push(index(table, "extension", &["extension_id"]));
        }

        tables.push(
            stamps(
                Table::create()
                    .table("contact")
                    .col(pk_uuid("id"))
                    .col(uuid("tenant_id"))
                    .col(string_len("name", 200))
                    .col(string_len("phone", 16))
                    .col(uuid_null("company_id"))
                    .foreign_key(&mut tenant_fk("contact"))
                    .foreign_key(&mut fk("contact", "company_id", "company", ForeignKeyAction::NoAction)),
            )
            .to_owned(),
        );
        indexes.push(unique("contact", "tenant_phone", &["tenant_id", "phone"]));
        indexes.push(index("contact", "company", &["company_id"]));

        tables.push(
            stamps(
                Table::create()
                    .table("message")
                    .col(pk_uuid("id"))
                    .col(uuid("tenant_id"))
                    .col(string_len("direction", 8))
                    .col(string_len("number", 16))
                    .col(string_len("remote", 16))
                    .col(text_null("body"))
                    .col(json_binary("media"))
                    .col(integer("segments"))
                    .col(small_integer("encoding"))
                    .col(string_len("status", 16))
                    .col(string_len_null("provider_message_id", 64))
                    .col(integer_null("error_code"))
                    .col(text_null("error_message"))
                    .col(json_binary("extensions"))
                    .col(string_len_null("sender_extension", 32))
                    .col(uuid_null("contact_id"))
                    .col(uuid_null("company_id"))
                    .col(string_len_null("keyword", 16))
                    .foreign_key(&mut tenant_fk("message")),
            )
            .to_owned(),
        );
        indexes.push(unique("message", "provider_id", &["direction", "provider_message_id"]));
        indexes.push(index("message", "tenant", &["tenant_id", "id"]));
        indexes.push(index("message", "conversation", &["tenant_id", "number", "remote", "id"]));

        tables.push(
            Table::create()
                .table("media")
                .col(pk_uuid("id"))
                .col(uuid("tenant_id"))
                .col(uuid("message_id"))
                .col(text("source_url"))
                .col(string_len_null("file_name", 255))
                .col(string_len("mime_type", 127))
                .col(big_integer("size"))
                .col(text_null("storage_path"))
                .col(string_len("state", 16))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut tenant_fk("media"))
                .foreign_key(&mut fk("media", "message_id", "message", ForeignKeyAction::Cascade))
                .to_owned(),
        );
        indexes.push(index("media", "message", &["message_id"]));

        tables.push(
            Table::create()
                .table("conversation")
                .col(pk_uuid("id"))
                .col(uuid("tenant_id"))
                .col(string_len("number", 16))
                .col(string_len("remote", 16))
                .col(uuid_null("last_message_id"))
                .col(timestamp_with_time_zone("last_message_at"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut tenant_fk("conversation"))
                .to_owned(),
        );
        indexes.push(unique("conversation", "pair", &["tenant_id", "number", "remote"]));
        indexes.push(index("conversation", "recent", &["tenant_id", "last_message_at"]));

        tables.push(
            Table::create()
                .table("conversation_unread")
                .col(uuid("conversation_id"))
                .col(string_len("extension", 32))
                .col(integer("unread").default(0))
                .primary_key(Index::create().col("conversation_id").col("extension"))
                .foreign_key(&mut fk(
                    "conversation_unread",
                    "conversation_id",
                    "conversation",
                    ForeignKeyAction::Cascade,
                ))
                .to_owned(),
        );

        tables.push(
            Table::create()
                .table("opt_out")
                .col(pk_uuid("id"))
                .col(uuid("tenant_id"))
                .col(string_len("scope", 16))
                .col(string_len("remote", 16))
                .col(string_len("keyword", 16))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut tenant_fk("opt_out"))
                .to_owned(),
        );
        indexes.push(unique("opt_out", "scope_remote", &["tenant_id", "remote", "scope"]));

        tables.push(
            Table::create()
                .table("event")
                .col(big_pk_auto("id"))
                .col(uuid("tenant_id"))
                .col(big_integer("seq"))
                .col(string_len("event_type", 64))
                .col(json_binary("payload"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut tenant_fk("event"))
                .to_owned(),
        );
        indexes.push(unique("event", "tenant_seq", &["tenant_id", "seq"]));

        tables.push(
            stamps(
                Table::create()
                    .table("job")
                    .col(pk_uuid("id"))
                    .col(uuid("tenant_id"))
                    .col(string_len("kind", 32))
                    .col(uuid_null("message_id"))
                    .col(big_integer_null("event_id"))
                    .col(string_len("ordering_key", 80))
                    .col(string_len("state", 16))
                    .col(integer("attempts").default(0))
                    .col(timestamp_with_time_zone("next_attempt_at"))
                    .col(timestamp_with_time_zone_null("locked_until"))
                    .col(text_null("last_error"))
                    .foreign_key(&mut tenant_fk("job")),
            )
            .to_owned(),
        );
        indexes.push(index("job", "due", &["state", "next_attempt_at"]));
        indexes.push(index("job", "ordering", &["ordering_key", "id"]));

        tables.push(
            Table::create()
                .table("idempotency_key")
                .col(uuid("tenant_id"))
                .col(string_len("principal", 64))
                .col(string_len("key", 255))
                .col(string_len("request_hash", 64))
                .col(uuid_null("message_id"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("expires_at"))
                .primary_key(Index::create().col("tenant_id").col("principal").col("key"))
                .foreign_key(&mut tenant_fk("idempotency_key"))
                .to_owned(),
        );
        indexes.push(index("idempotency_key", "expiry", &["expires_at"]));

        for mut t in tables {
            m.create_table(t.if_not_exists().to_owned()).await?;
        }
        for mut i in indexes {
            m.create_index(i.if_not_exists().to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "idempotency_key",
            "job",
            "event",
            "opt_out",
            "conversation_unread",
            "conversation",
            "media",
            "message",
            "contact",
            "number_sender",
            "number_destination",
            "number",
            "policy_extension",
            "policy",
            "extension",
            "inbound_prefix",
            "provider",
            "company",
            "tenant",
        ] {
            m.drop_table(Table::drop().table(t).if_exists().to_owned()).await?;
        }
        Ok(())
    }
}
