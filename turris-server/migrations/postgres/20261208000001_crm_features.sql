-- The CRM writes an organization has on, read where notes and tags pushes are queued so that
-- nothing is queued for a feature that is off: ',' then each of 'tags' and the note kinds
-- logged, each followed by ',' (",tags,nipr_sync_failed,"). Written with the settings document.
ALTER TABLE integration_settings ADD COLUMN crm_features TEXT NOT NULL DEFAULT ',';
UPDATE integration_settings SET crm_features = ','
    || CASE WHEN (document::jsonb #>> '{crm,tags}') = 'true' THEN 'tags,' ELSE '' END
    || CASE WHEN (document::jsonb #>> '{crm,notes,invitations}') = 'true' THEN 'invitation_sent,' ELSE '' END
    || CASE WHEN (document::jsonb #>> '{crm,notes,agreements}') = 'true' THEN 'agreement_executed,' ELSE '' END
    || CASE WHEN (document::jsonb #>> '{crm,notes,nipr_errors}') = 'true' THEN 'nipr_sync_failed,' ELSE '' END
    || CASE WHEN (document::jsonb #>> '{crm,notes,tickets}') = 'true' THEN 'support_ticket,' ELSE '' END
    || CASE WHEN (document::jsonb #>> '{crm,notes,compliance}') = 'true' THEN 'compliance_changed,' ELSE '' END
;
