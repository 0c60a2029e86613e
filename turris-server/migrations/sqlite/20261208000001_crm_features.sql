-- The CRM writes an organization has on, read where notes and tags pushes are queued so that
-- nothing is queued for a feature that is off: ',' then each of 'tags' and the note kinds
-- logged, each followed by ',' (",tags,nipr_sync_failed,"). Written with the settings document.
ALTER TABLE integration_settings ADD COLUMN crm_features TEXT NOT NULL DEFAULT ',';
UPDATE integration_settings SET crm_features = ','
    || CASE WHEN json_extract(document, '$.crm.tags') = 1 THEN 'tags,' ELSE '' END
    || CASE WHEN json_extract(document, '$.crm.notes.invitations') = 1 THEN 'invitation_sent,' ELSE '' END
    || CASE WHEN json_extract(document, '$.crm.notes.agreements') = 1 THEN 'agreement_executed,' ELSE '' END
    || CASE WHEN json_extract(document, '$.crm.notes.nipr_errors') = 1 THEN 'nipr_sync_failed,' ELSE '' END
    || CASE WHEN json_extract(document, '$.crm.notes.tickets') = 1 THEN 'support_ticket,' ELSE '' END
    || CASE WHEN json_extract(document, '$.crm.notes.compliance') = 1 THEN 'compliance_changed,' ELSE '' END
    WHERE json_valid(document);
